"""Differential test: random command sequences over every type (strings, hashes, lists, sets,
sorted sets, with TTLs, COPY and MOVE between two dbs, MULTI/EXEC and scripts) go to tiercache-l2
and redis-server 7.0 at once;
every reply must be equal (after sorting the replies Redis leaves unordered), and every 101 steps a
whole HSCAN/SSCAN/ZSCAN walk of a key (cursors followed, small COUNTs) must return the same set. Bounded in steps
(TIERCACHE_DIFF_STEPS, default 100000, about 15 s) and seeded (TIERCACHE_DIFF_SEED, default 1):
CI repeats one sequence on any machine; "random" explores. The seed, the step and the last
commands are printed on failure."""

import os
import random

import pytest

from helpers import RespError
from servers import ServerFactory

KEYS = ["k%d" % i for i in range(6)]
LEX_KEY = "zlex"
MEMBERS = ["a", "b", "c", "dd", "1", "2", "10", "-3", "x" * 70]
NUMS = ["0", "1", "-1", "2", "5", "-5", "100", "x", "1.5"]
SCORES = ["0", "1", "2.5", "-1", "inf", "-inf", "3", "x", "(1", "(2"]
LEX = ["-", "+", "[a", "(b", "[c", "(dd", "x"]
# The dbs COPY ... DB and MOVE write to (and the sequence switches between); "16" is out of range.
DBS = ["0", "1", "1", "16"]

# Replies that are sets or maps: compared sorted.
UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS", "SPOP", "SRANDMEMBER",
             "HRANDFIELD", "ZRANDMEMBER"}
PAIRED = {"HGETALL"}
SCANS = {"HSCAN", "SSCAN", "ZSCAN"}


def _m(r):
    return r.choice(MEMBERS)


def _k(r):
    return r.choice(KEYS)


def gen(r):
    """One random command (a list of str)."""
    k, m, n = _k(r), _m(r), r.choice(NUMS)
    table = [
        # strings and generics
        lambda: ["SET", k, m], lambda: ["GET", k], lambda: ["INCR", k], lambda: ["APPEND", k, m],
        lambda: ["DEL", k, _k(r)], lambda: ["EXISTS", k, _k(r)], lambda: ["TYPE", k],
        lambda: ["RENAME", k, _k(r)], lambda: ["OBJECT", "ENCODING", k],
        lambda: ["EXPIRE", k, r.choice(["1000", "0", "-1"])], lambda: ["PERSIST", k],
        lambda: ["TTL", k], lambda: ["MGET", k, _k(r)], lambda: ["GETDEL", k],
        lambda: ["COPY", k, _k(r)] + r.choice([[], ["REPLACE"], ["DB", r.choice(DBS)],
                                               ["DB", r.choice(DBS), "REPLACE"]]),
        lambda: ["MOVE", k, r.choice(DBS)],
        # hashes
        lambda: ["HSET", k, m, _m(r)] + ([_m(r), n] if r.random() < 0.3 else []),
        lambda: ["HGET", k, m], lambda: ["HMGET", k, m, _m(r)], lambda: ["HGETALL", k],
        lambda: ["HDEL", k, m, _m(r)], lambda: ["HLEN", k], lambda: ["HEXISTS", k, m],
        lambda: ["HINCRBY", k, m, n], lambda: ["HINCRBYFLOAT", k, m, n], lambda: ["HKEYS", k],
        lambda: ["HVALS", k], lambda: ["HSETNX", k, m, n], lambda: ["HSTRLEN", k, m],
        lambda: ["HRANDFIELD", k, "100"], lambda: ["HSCAN", k, "0", "MATCH", "*"],
        # lists
        lambda: [r.choice(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), k, m, _m(r)],
        lambda: [r.choice(["LPOP", "RPOP"]), k] + ([r.choice(NUMS)] if r.random() < 0.4 else []),
        lambda: ["LRANGE", k, r.choice(NUMS), r.choice(NUMS)], lambda: ["LLEN", k],
        lambda: ["LINDEX", k, n], lambda: ["LSET", k, n, m], lambda: ["LREM", k, n, m],
        lambda: ["LTRIM", k, r.choice(NUMS), r.choice(NUMS)],
        lambda: ["LINSERT", k, r.choice(["BEFORE", "AFTER", "X"]), m, _m(r)],
        lambda: ["LPOS", k, m] + r.choice([[], ["RANK", n], ["COUNT", n], ["MAXLEN", n]]),
        lambda: ["LMOVE", k, _k(r), r.choice(["LEFT", "RIGHT"]), r.choice(["LEFT", "RIGHT"])],
        lambda: ["RPOPLPUSH", k, _k(r)],
        lambda: ["LMPOP", "2", k, _k(r), r.choice(["LEFT", "RIGHT"]), "COUNT", "2"],
        # sets
        lambda: ["SADD", k, m, _m(r)], lambda: ["SREM", k, m, _m(r)], lambda: ["SMEMBERS", k],
        lambda: ["SISMEMBER", k, m], lambda: ["SMISMEMBER", k, m, _m(r)], lambda: ["SCARD", k],
        lambda: ["SMOVE", k, _k(r), m], lambda: [r.choice(["SINTER", "SUNION", "SDIFF"]), k, _k(r)],
        lambda: [r.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), k, _k(r), _k(r)],
        lambda: ["SINTERCARD", "2", k, _k(r)], lambda: ["SPOP", k, "100"],
        lambda: ["SRANDMEMBER", k, "100"], lambda: ["SSCAN", k, "0"],
        # sorted sets
        lambda: ["ZADD", k] + r.choice([[], ["NX"], ["XX"], ["GT"], ["LT", "CH"], ["INCR"]])
        + [r.choice(SCORES[:7]), m],
        lambda: ["ZADD", k, r.choice(SCORES[:7]), m, r.choice(SCORES[:7]), _m(r)],
        lambda: ["ZINCRBY", k, r.choice(SCORES[:7]), m], lambda: ["ZSCORE", k, m],
        lambda: ["ZMSCORE", k, m, _m(r)], lambda: ["ZCARD", k], lambda: ["ZRANK", k, m],
        lambda: ["ZREVRANK", k, m], lambda: ["ZREM", k, m, _m(r)],
        lambda: ["ZCOUNT", k, r.choice(SCORES), r.choice(SCORES)],
        lambda: ["ZRANGE", k, n, r.choice(NUMS)] + r.choice([[], ["REV"], ["WITHSCORES"]]),
        lambda: ["ZRANGE", k, r.choice(SCORES), r.choice(SCORES), "BYSCORE"]
        + r.choice([[], ["REV"], ["LIMIT", n, r.choice(NUMS)], ["WITHSCORES"]]),
        lambda: ["ZREVRANGEBYSCORE", k, r.choice(SCORES), r.choice(SCORES), "WITHSCORES"],
        lambda: ["ZREMRANGEBYSCORE", k, r.choice(SCORES), r.choice(SCORES)],
        lambda: ["ZREMRANGEBYRANK", k, n, r.choice(NUMS)],
        lambda: [r.choice(["ZPOPMIN", "ZPOPMAX"]), k] + ([n] if r.random() < 0.5 else []),
        lambda: ["ZMPOP", "2", k, _k(r), r.choice(["MIN", "MAX"])],
        lambda: [r.choice(["ZUNION", "ZINTER", "ZDIFF"]), "2", k, _k(r), "WITHSCORES"],
        lambda: [r.choice(["ZUNIONSTORE", "ZINTERSTORE"]), k, "2", _k(r), _k(r), "WEIGHTS",
                 r.choice(SCORES[:4]), "2", "AGGREGATE", r.choice(["SUM", "MIN", "MAX"])],
        lambda: ["ZDIFFSTORE", k, "2", _k(r), _k(r)], lambda: ["ZINTERCARD", "2", k, _k(r)],
        lambda: ["ZRANGESTORE", k, _k(r), "0", "-1"], lambda: ["ZSCAN", k, "0"],
        # Lex ranges are defined only when all scores are equal (with mixed scores Redis's
        # answer depends on its skiplist's random levels): they get a key of their own.
        lambda: ["ZADD", LEX_KEY, "0", m], lambda: ["ZREM", LEX_KEY, m],
        lambda: ["ZLEXCOUNT", LEX_KEY, r.choice(LEX), r.choice(LEX)],
        lambda: ["ZRANGEBYLEX", LEX_KEY, r.choice(LEX), r.choice(LEX)]
        + r.choice([[], ["LIMIT", n, r.choice(NUMS)]]),
        lambda: ["ZRANGE", LEX_KEY, r.choice(LEX), r.choice(LEX), "BYLEX", "REV"],
        lambda: ["ZREVRANGEBYLEX", LEX_KEY, r.choice(LEX), r.choice(LEX)],
        lambda: ["ZREMRANGEBYLEX", LEX_KEY, r.choice(LEX), r.choice(LEX)],
    ]
    return r.choice(table)()


def normalize(cmd, reply):
    name = cmd[0].upper()
    if isinstance(reply, list):
        if name in UNORDERED:
            return sorted(reply, key=repr)
        if name in PAIRED:
            return sorted(zip(reply[::2], reply[1::2]), key=repr)
        if name in SCANS and len(reply) == 2:
            items = reply[1]
            if name == "SSCAN":
                return [reply[0], sorted(items, key=repr)]
            return [reply[0], sorted(zip(items[::2], items[1::2]), key=repr)]
        if name == "EXEC":
            return reply  # inner replies normalized by the caller's recursion below
    if name == "OBJECT" and reply in (b"int", b"embstr", b"raw"):
        # A string's encoding follows its history in Redis (APPEND makes raw, ...); tiercache
        # answers from the value alone. Collections' encodings are compared exactly.
        return "string-encoding"
    if name == "TTL" and isinstance(reply, int) and reply > 0:
        return "positive"  # whole seconds may straddle a tick between the two servers
    return reply


def run_one(servers, cmd):
    replies = [s.cmd(*cmd) for s in servers]
    return [normalize(cmd, x) for x in replies]


def state(conn):
    out = []
    for k in KEYS + [LEX_KEY]:
        t = conn.cmd("TYPE", k)
        if t == "string":
            v = conn.cmd("GET", k)
        elif t == "hash":
            flat = conn.cmd("HGETALL", k)
            v = sorted(zip(flat[::2], flat[1::2]))
        elif t == "list":
            v = conn.cmd("LRANGE", k, "0", "-1")
        elif t == "set":
            v = sorted(conn.cmd("SMEMBERS", k))
        elif t == "zset":
            v = conn.cmd("ZRANGE", k, "0", "-1", "WITHSCORES")
        else:
            v = None
        out.append((k, t, v))
    return out


SCRIPT = "return redis.pcall(ARGV[1], KEYS[1], unpack(ARGV, 2))"

WALKS = {"hash": "HSCAN", "set": "SSCAN", "zset": "ZSCAN"}


def walk(conn, key, count):
    """A whole HSCAN/SSCAN/ZSCAN walk of key with COUNT count: the set of what it returned (the
    cursors themselves differ between servers, their hash functions do). None for other types."""
    cmd = WALKS.get(conn.cmd("TYPE", key))
    if cmd is None:
        return None
    seen, cursor = set(), b"0"
    while True:
        cursor, items = conn.cmd(cmd, key, cursor, "COUNT", str(count))
        seen.update(items if cmd == "SSCAN" else zip(items[::2], items[1::2]))
        if cursor == b"0":
            return seen


@pytest.mark.tiercache_only("compares tiercache-l2 with redis-server itself")
def test_random_sequences_match_redis():
    # A fixed seed and a fixed number of steps by default, so CI runs the same sequence every
    # time, however fast the machine (a mismatch found by exploration is fixed, not met at
    # random); TIERCACHE_DIFF_SEED=random with more TIERCACHE_DIFF_STEPS explores.
    total = int(os.environ.get("TIERCACHE_DIFF_STEPS", "100000"))
    given = os.environ.get("TIERCACHE_DIFF_SEED", "1")
    seed = random.randrange(1 << 30) if given == "random" else int(given)
    r = random.Random(seed)
    # The cursor walks draw from their own generator: adding them left the command sequence
    # of every seed as it was.
    walk_r = random.Random(seed ^ 0x5CA4)
    factories = [ServerFactory("tiercache"), ServerFactory("redis")]
    try:
        conns = [f().raw() for f in factories]
        history = []
        for steps in range(1, total + 1):
            roll = r.random()
            if roll < 0.01:  # the other db: MOVE and COPY ... DB bring keys back and forth
                db = r.choice(DBS[:2])
                history.append(["SELECT", db])
                got = [c.cmd("SELECT", db) for c in conns]
            elif roll < 0.05:  # a transaction of a few commands
                cmds = [gen(r) for _ in range(r.randint(1, 4))]
                for c in conns:
                    assert c.cmd("MULTI") == "OK"
                queued = [run_one(conns, c) for c in cmds]
                history.append(["MULTI"] + cmds)
                assert queued[0][0] == queued[0][1] if queued else True
                got = [c.cmd("EXEC") for c in conns]
                if isinstance(got[0], list) and isinstance(got[1], list):
                    got = [[normalize(c, x) for c, x in zip(cmds, g)] for g in got]
            elif roll < 0.10:  # the same command from a Lua script
                cmd = gen(r)
                key = cmd[1] if len(cmd) > 1 else "k0"
                args = [cmd[0]] + cmd[2:]
                full = ["EVAL", SCRIPT, "1", key] + args
                history.append(full)
                got = [normalize(cmd, c.cmd(*full)) for c in conns]
            else:
                cmd = gen(r)
                history.append(cmd)
                got = run_one(conns, cmd)
            if got[0] != got[1]:
                pytest.fail("seed %d, step %d: replies differ\n  last commands: %s\n"
                            "  tiercache: %r\n  redis:     %r"
                            % (seed, steps, history[-5:], got[0], got[1]))
            if steps % 101 == 0:  # a third as often as at first: it was half the test's time
                key, count = walk_r.choice(KEYS), walk_r.choice([1, 2, 3, 10])
                a, b = walk(conns[0], key, count), walk(conns[1], key, count)
                assert a == b, "seed %d, step %d: %s walk of %s (COUNT %d) differs\n%r\n%r" % (
                    seed, steps, WALKS.get(conns[0].cmd("TYPE", key)), key, count, a, b)
            if steps % 50 == 0:
                a, b = state(conns[0]), state(conns[1])
                assert a == b, "seed %d, step %d: state differs after %s\n%r\n%r" % (
                    seed, steps, history[-5:], a, b)
        for c in conns:
            assert not isinstance(c.cmd("PING"), RespError)
    finally:
        for f in factories:
            f.stop_all()
