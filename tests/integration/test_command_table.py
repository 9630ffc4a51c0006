"""The command table (shared/command/command_table.cc) against redis-server 7.0: the typed
commands' rows in COMMAND INFO (arity, first/last/step, the flags tiercache models), the key
positions COMMAND GETKEYS derives (the sidecar and scripts act on them), every command's COMMAND
DOCS group, and every container's subcommands with their arity, as the errors a request with
one argument too many or too few gets inside MULTI. Starts one server of each kind, whatever
the target."""

import pytest

from servers import ServerFactory

MODELED_FLAGS = {"write", "readonly", "denyoom", "fast", "noscript", "movablekeys", "blocking"}

# Every non-deprecated command of the hash, list, set and sorted-set groups, plus the deprecated
# ones still in common use.
GROUPS = ("hash", "list", "set", "sorted-set")
DEPRECATED_KEPT = {"hmset", "rpoplpush", "zrangebyscore", "zrevrangebyscore", "zrangebylex",
                   "zrevrangebylex", "zrevrange", "brpoplpush"}
NOT_YET = set()

GETKEYS_SAMPLES = [
    ("HSET", "h", "f", "v"), ("LMOVE", "a", "b", "LEFT", "RIGHT"), ("SMOVE", "a", "b", "m"),
    ("SINTER", "a", "b", "c"), ("SINTERSTORE", "d", "a", "b"), ("SINTERCARD", "2", "a", "b"),
    ("LMPOP", "2", "a", "b", "LEFT"), ("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"),
    ("ZUNION", "2", "a", "b"), ("ZDIFFSTORE", "d", "1", "a"), ("ZINTERCARD", "1", "a"),
    ("ZMPOP", "1", "a", "MIN"), ("ZRANGESTORE", "d", "s", "0", "1"), ("RPOPLPUSH", "a", "b"),
    ("BLPOP", "a", "b", "0"), ("BRPOPLPUSH", "a", "b", "0"), ("BLMOVE", "a", "b", "LEFT", "RIGHT", "0"),
    ("BLMPOP", "0", "2", "a", "b", "LEFT"), ("BZPOPMAX", "a", "b", "1.5"), ("BZMPOP", "1", "1", "a", "MIN"),
    ("COPY", "a", "b", "DB", "1", "REPLACE"), ("MOVE", "a", "1"),
]
# Generic commands of the type-aware kind, checked the same way.
GENERIC = ("copy", "move", "rename", "renamenx", "type", "object", "memory")


@pytest.fixture(scope="module")
def both():
    factories = [ServerFactory("tiercache"), ServerFactory("redis")]
    yield [f().raw() for f in factories]
    for f in factories:
        f.stop_all()


def _typed_commands(redis_raw):
    docs = redis_raw.cmd("COMMAND", "DOCS")
    names = []
    for name, doc in zip(docs[::2], docs[1::2]):
        d = dict(zip(doc[::2], doc[1::2]))
        if d.get(b"group", b"").decode() not in GROUPS:
            continue
        name = name.decode()
        if name in NOT_YET:
            continue
        if b"deprecated_since" in d and name not in DEPRECATED_KEPT:
            continue
        names.append(name)
    return names


def test_rows_match_redis(both):
    ours, theirs = both
    names = _typed_commands(theirs)
    assert len(names) >= 80
    for name in names:
        mine = ours.cmd("COMMAND", "INFO", name)[0]
        ref = theirs.cmd("COMMAND", "INFO", name)[0]
        assert mine is not None, "%s missing from tiercache's table" % name
        assert mine[1] == ref[1], (name, "arity", mine[1], ref[1])
        assert mine[3:6] == ref[3:6], (name, "first/last/step", mine[3:6], ref[3:6])
        ref_flags = {f for f in ref[2] if f in MODELED_FLAGS}
        assert set(mine[2]) == ref_flags, (name, "flags", mine[2], ref[2])


@pytest.mark.parametrize("name", GENERIC)
def test_generic_rows_match_redis(both, name):
    ours, theirs = both
    mine = ours.cmd("COMMAND", "INFO", name)[0]
    ref = theirs.cmd("COMMAND", "INFO", name)[0]
    assert mine[1] == ref[1] and mine[3:6] == ref[3:6], (mine, ref)
    assert set(mine[2]) == {f for f in ref[2] if f in MODELED_FLAGS}, (mine[2], ref[2])


@pytest.mark.parametrize("args", GETKEYS_SAMPLES, ids=lambda a: a[0])
def test_getkeys_match_redis(both, args):
    ours, theirs = both
    assert ours.cmd("COMMAND", "GETKEYS", *args) == theirs.cmd("COMMAND", "GETKEYS", *args)


def test_every_commands_docs_group_matches_redis(both):
    ours, theirs = both
    names = [n.decode() for n in ours.cmd("COMMAND", "LIST")]
    assert len(names) >= 160
    wrong = []
    for name in names:
        mine, ref = ours.cmd("COMMAND", "DOCS", name), theirs.cmd("COMMAND", "DOCS", name)
        group = dict(zip(mine[1][::2], mine[1][1::2]))[b"group"]
        if group != dict(zip(ref[1][::2], ref[1][1::2]))[b"group"]:
            wrong.append((name, group))
    assert not wrong


def test_allow_busy_matches_redis_for_every_command_and_subcommand(both):
    """The commands a busy script lets run (COMMAND INFO's allow_busy): ours, from the table's
    kAllowBusy, against redis-server's, for each command we list and each of Redis's
    subcommands of our containers (which run while busy is shown by the server's behaviour:
    test_scripting.py)."""
    ours, theirs = both
    names = [n.decode() for n in ours.cmd("COMMAND", "LIST")]
    mine = {e[0].decode() for e in ours.cmd("COMMAND", "INFO", *names)
            if "allow_busy" in e[2]}
    ref_entries = [e for e in theirs.cmd("COMMAND", "INFO", *names) if e is not None]
    ref = {e[0].decode() for e in ref_entries if "allow_busy" in e[2]}
    assert mine == ref
    assert {"auth", "hello", "quit", "reset", "multi", "discard", "watch", "unwatch",
            "shutdown"} <= mine
    ref_subs = {sub[0].decode() for e in ref_entries for sub in e[9] if "allow_busy" in sub[2]}
    # Of Redis's subcommands, those of the containers tiercache has (not FUNCTION's).
    assert {s for s in ref_subs if s.split("|")[0] in names} == {"script|kill"}


def test_loading_matches_redis_for_every_command(both):
    """The commands that run while the RDB file loads (COMMAND INFO's loading): ours, from the
    table's kLoading, against redis-server's, for each command we list. PING is not one of
    them. (Which subcommands run is shown by the server's behaviour: test_persistence.py.)"""
    ours, theirs = both
    names = [n.decode() for n in ours.cmd("COMMAND", "LIST")]
    mine = {e[0].decode() for e in ours.cmd("COMMAND", "INFO", *names) if "loading" in e[2]}
    ref = {e[0].decode() for e in theirs.cmd("COMMAND", "INFO", *names)
           if e is not None and "loading" in e[2]}
    assert mine == ref
    assert {"info", "auth", "hello", "shutdown", "subscribe", "multi", "exec"} <= mine
    assert "ping" not in mine and "get" not in mine


def _subcommand_requests(theirs, container):
    """For each of Redis's subcommands of container: a request with one argument too many
    (fixed arity) or one too few (at least N, when that still names the subcommand)."""
    [entry] = theirs.cmd("COMMAND", "INFO", container)
    requests = []
    for sub in entry[9]:
        name, arity = sub[0].decode().split("|")[1], sub[1]
        if arity > 0:
            requests.append([container, name] + ["x"] * (arity - 1))
        elif -arity - 1 >= 2:
            requests.append([container, name] + ["x"] * (-arity - 3))
    return requests


@pytest.mark.parametrize("container", ["client", "command", "config", "memory", "object",
                                       "pubsub", "script"])
def test_every_subcommands_arity_matches_redis(both, container):
    ours, theirs = both
    requests = _subcommand_requests(theirs, container)
    requests.append([container, "nosuch-sub"])
    assert len(requests) >= 3
    for conn in (ours, theirs):
        assert conn.cmd("MULTI") == "OK"
    for req in requests:
        mine, ref = ours.cmd(*req), theirs.cmd(*req)
        assert mine == ref and str(ref).startswith("ERR "), (req, mine, ref)
    for conn in (ours, theirs):
        assert conn.cmd("EXEC") == "EXECABORT Transaction discarded because of previous errors."
