"""Large sorted sets against redis-server 7.0: thousands of members, so tiercache-l2 holds them in
its general encoding (a B+-tree three levels deep, l2/keyspace/sorted_index.h) where the
differential test's few members stay small. Random ZADD (also INCR, XX/NX/GT/LT), ZINCRBY, ZREM,
ZREMRANGEBY*, ZPOP* and every kind of range and rank read, with many equal scores (members
break the ties), -0, inf and exclusive bounds, go to both servers in pipelined blocks; every reply
and, after every block, both sets whole must be equal. Seeded (TIERCACHE_DIFF_SEED)."""

import os
import random

import pytest

from servers import ServerFactory
from test_types_differential import pipelined

KEYS = ["big0", "big1"]
LEX_KEY = "biglex"  # every score 0: the lex commands' domain
SCORES = ["0", "-0", "1", "2", "2.5", "-7", "1e9", "inf", "-inf", "3", "4", "5"]
BOUNDS = ["-inf", "+inf", "0", "(0", "2", "(2", "2.5", "(2.5", "-7", "(4", "1e9"]


def member(r):
    return "m%05d" % r.randrange(6000)


def lex_bound(r):
    return r.choice(["-", "+"]) if r.random() < 0.1 else r.choice("[(") + member(r)


def gen(r):
    k = r.choice(KEYS)
    s, m = r.choice(SCORES), member(r)
    roll = r.random()
    if roll < 0.45:
        pairs = []
        for _ in range(r.randint(1, 20)):
            pairs += [r.choice(SCORES), member(r)]
        return ["ZADD", k] + r.choice([[], [], ["NX"], ["XX"], ["GT", "CH"], ["LT"]]) + pairs
    if roll < 0.50:
        return ["ZADD", LEX_KEY] + [x for _ in range(10) for x in ("0", member(r))]
    table = [
        lambda: ["ZINCRBY", k, r.choice(["1", "-1", "0.5"]), m],
        lambda: ["ZREM", k, m, member(r), member(r)],
        lambda: ["ZRANK", k, m], lambda: ["ZREVRANK", k, m], lambda: ["ZSCORE", k, m],
        lambda: ["ZCARD", k],
        lambda: ["ZRANGE", k, str(r.randrange(-3000, 3000)), str(r.randrange(-3000, 3000)),
                 "WITHSCORES"],
        lambda: ["ZRANGE", k, r.choice(BOUNDS), r.choice(BOUNDS), "BYSCORE", "LIMIT",
                 str(r.randrange(0, 500)), str(r.choice([-1, 5, 50]))],
        lambda: ["ZRANGE", k, r.choice(BOUNDS), r.choice(BOUNDS), "BYSCORE", "REV", "LIMIT", "0",
                 "20"],
        lambda: ["ZCOUNT", k, r.choice(BOUNDS), r.choice(BOUNDS)],
        lambda: (lambda a: ["ZREMRANGEBYRANK", k, str(a), str(a + r.randrange(0, 5))])(
            r.randrange(-3000, 3000)),
        lambda: ["ZREMRANGEBYSCORE", k, "(2", "2.5"],
        lambda: ["ZPOPMIN", k, str(r.randint(1, 5))], lambda: ["ZPOPMAX", k],
        lambda: ["ZMSCORE", k, m, member(r)],
        lambda: ["ZRANGE", LEX_KEY, lex_bound(r), lex_bound(r), "BYLEX", "LIMIT", "0", "30"],
        lambda: ["ZLEXCOUNT", LEX_KEY, lex_bound(r), lex_bound(r)],
        lambda: ["ZREMRANGEBYLEX", LEX_KEY, "[" + m, "[" + m[:-1] + "9"],
        lambda: ["ZRANK", LEX_KEY, m],
    ]
    return r.choice(table)()


@pytest.mark.tiercache_only("compares tiercache-l2 with redis-server itself")
def test_large_sorted_sets_match_redis():
    given = os.environ.get("TIERCACHE_DIFF_SEED", "7")
    seed = random.randrange(1 << 30) if given == "random" else int(given)
    r = random.Random(seed)
    factories = [ServerFactory("tiercache"), ServerFactory("redis")]
    try:
        conns = [f().raw() for f in factories]
        for block in range(60):
            cmds = [gen(r) for _ in range(400)]
            replies = pipelined(conns, cmds)
            for i, (cmd, a, b) in enumerate(zip(cmds, *replies)):
                assert a == b, "seed %d, block %d, command %d %s:\n  tiercache %r\n  redis  %r" % (
                    seed, block, i, cmd, a, b)
            whole = pipelined(conns, [["ZRANGE", k, "0", "-1", "WITHSCORES"]
                                      for k in KEYS + [LEX_KEY]]
                              + [["OBJECT", "ENCODING", k] for k in KEYS])
            assert whole[0] == whole[1], "seed %d: contents differ after block %d" % (seed, block)
        sizes = pipelined(conns[:1], [["ZCARD", k] for k in KEYS + [LEX_KEY]])[0]
        assert min(sizes) > 2000, sizes  # large enough for a tree of several levels
    finally:
        for f in factories:
            f.stop_all()
