"""HSCAN, SSCAN and ZSCAN over large collections (both targets): a hashtable-encoded collection
is walked in many bounded steps, and every member present from the start to the end of a walk is
returned, even when the collection grows and shrinks (its table resizes) between steps; a small
(listpack/intset) collection comes back whole at cursor 0; bad cursors and COUNTs answer
redis-server 7.0's errors."""

import pytest

from helpers import RespError, encode

SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
BATCH = 1000


class Kind:
    """How to write and scan one collection type."""

    def __init__(self, scan, add, rem):
        self.scan, self.add, self.rem = scan, add, rem


KINDS = {
    "hash": Kind("HSCAN", lambda k, ms: ["HSET", k] + [x for m in ms for x in (m, "v" + m)],
                 lambda k, ms: ["HDEL", k] + ms),
    "set": Kind("SSCAN", lambda k, ms: ["SADD", k] + ms, lambda k, ms: ["SREM", k] + ms),
    "zset": Kind("ZSCAN", lambda k, ms: ["ZADD", k] + [x for m in ms for x in (m, m)],
                 lambda k, ms: ["ZREM", k] + ms),
}


def _write(raw, make, key, members):
    """Sends the members in pipelined batches of BATCH and checks every reply."""
    batches = [members[i:i + BATCH] for i in range(0, len(members), BATCH)]
    raw.send(b"".join(encode(*make(key, b)) for b in batches))
    for reply in raw.read_replies(len(batches), timeout=60.0):
        assert not isinstance(reply, RespError), reply


def _members(kind, reply_items):
    """The members of one scan reply (fields of HSCAN, members of ZSCAN, with their values
    checked against what was written)."""
    if kind == "set":
        return [m.decode() for m in reply_items]
    pairs = list(zip(reply_items[::2], reply_items[1::2]))
    for m, v in pairs:
        want = b"v" + m if kind == "hash" else m  # a zset member's score is its own number
        assert v == want, (m, v)
    return [m.decode() for m, _ in pairs]


def _walk(raw, kind, count, between=lambda steps: None):
    """A whole walk of key "big" with COUNT count; between(steps) runs after every step but
    the last. Checks every reply is bounded; returns (members seen, steps taken)."""
    seen, steps, cursor = set(), 0, b"0"
    while True:
        reply = raw.cmd(KINDS[kind].scan, "big", cursor, "COUNT", str(count), timeout=30.0)
        assert isinstance(reply, list), reply
        cursor, got = reply[0], _members(kind, reply[1])
        steps += 1
        # COUNT is a hint: a step returns about that many, never the whole collection.
        assert len(got) <= 1000, (steps, len(got))
        seen.update(got)
        if cursor == b"0":
            return seen, steps
        between(steps)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_large_collection_is_walked_in_bounded_steps(raw, kind):
    members = ["1%06d" % i for i in range(100_000)]
    _write(raw, KINDS[kind].add, "big", members)
    assert raw.cmd("OBJECT", "ENCODING", "big") in (b"hashtable", b"skiplist")
    seen, steps = _walk(raw, kind, 100)
    assert seen == set(members)
    assert steps >= 100_000 // 1000


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_members_present_throughout_are_returned_across_resizes(raw, kind):
    k = KINDS[kind]
    stable = ["1%06d" % i for i in range(5_000)]
    filler = ["2%06d" % i for i in range(95_000)]
    extra = ["3%06d" % i for i in range(60_000)]
    _write(raw, k.add, "big", stable + filler)

    def between(steps):
        if steps == 3:  # 100k -> 160k members: the table doubles mid-walk
            _write(raw, k.add, "big", extra)
        elif steps == 40:  # 160k -> 5k: the table shrinks mid-walk
            _write(raw, k.rem, "big", filler + extra)

    seen, steps = _walk(raw, kind, 50, between)
    assert steps > 40
    missing = set(stable) - seen
    assert not missing, "%d stable members never returned, e.g. %s" % (
        len(missing), sorted(missing)[:5])
    assert raw.cmd({"hash": "HLEN", "set": "SCARD", "zset": "ZCARD"}[kind], "big") == 5_000


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_small_collection_whole_at_cursor_zero(raw, kind):
    _write(raw, KINDS[kind].add, "small", ["1%06d" % i for i in range(50)])
    assert raw.cmd("OBJECT", "ENCODING", "small") in (b"listpack", b"intset")
    # Any cursor: a compact encoding has no buckets, the whole value comes back with cursor 0.
    for cursor in ("0", "12345"):
        reply = raw.cmd(KINDS[kind].scan, "small", cursor, "COUNT", "5")
        assert reply[0] == b"0"
        assert len(_members(kind, reply[1])) == 50


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_match_filters_each_step(raw, kind):
    members = ["1%06d" % i for i in range(20_000)]
    _write(raw, KINDS[kind].add, "big", members)
    seen, cursor = [], b"0"
    while True:
        reply = raw.cmd(KINDS[kind].scan, "big", cursor, "MATCH", "1*7", "COUNT", "200")
        cursor = reply[0]
        seen += _members(kind, reply[1])
        if cursor == b"0":
            break
    assert set(seen) == {m for m in members if m.endswith("7")}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bad_cursor_and_count(raw, kind):
    cmd = KINDS[kind].scan
    _write(raw, KINDS[kind].add, "big", ["1%06d" % i for i in range(1000)])
    for cursor in ("x", "1.5", " 1", "1 ", "-", "+", "0x10", "18446744073709551616"):
        assert raw.cmd(cmd, "big", cursor) == "ERR invalid cursor", cursor
    # Redis reads the cursor with strtoul: a sign is accepted ("-1" wraps to 2^64 - 1), an
    # empty cursor is 0, and so is any number of leading zeros.
    for cursor in ("18446744073709551615", "-1", "+5", "-18446744073709551615", "",
                   "0" * 30 + "7"):
        assert isinstance(raw.cmd(cmd, "big", cursor), list), cursor
    assert raw.cmd(cmd, "big", "0", "COUNT", "0") == SYNTAX
    assert raw.cmd(cmd, "big", "0", "COUNT", "-1") == SYNTAX
    assert raw.cmd(cmd, "big", "0", "COUNT", "x") == NOT_INT
    assert raw.cmd(cmd, "big", "0", "COUNT") == SYNTAX
    assert raw.cmd(cmd, "big", "0", "NOVALUES") == SYNTAX  # not in 7.0
    assert raw.cmd(cmd, "big", "0", "TYPE", "string") == SYNTAX  # SCAN's option only
    assert raw.cmd(cmd, "nokey", "0", "COUNT", "5") == [b"0", []]
