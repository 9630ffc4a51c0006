"""The connection commands' behaviour as redis-server 7.0 answers it, as scripted exchanges:
each scenario is a list of (request, expected reply) steps played on one raw connection. The
same scenarios run against tiercache-l2 and redis-server (test_connection_scenarios.py, both
targets) and through the sidecar (sidecar/test_connection_commands_sidecar.py), so that the
three answer alike; shared/session/ implements them once for both servers.

An expected reply is what helpers.parse gives (str for +simple, RespError for -errors, bytes,
int, list, None), or a Check: a predicate with a description."""

from helpers import RespError


class Check:
    def __init__(self, what, predicate):
        self.what = what
        self.predicate = predicate

    def __repr__(self):
        return "<%s>" % self.what


CLOSED = object()  # the step's reply is followed by the server closing the connection


def err(text):
    return RespError(text)


def startswith(prefix):
    return Check("starts with %r" % prefix,
                 lambda r: isinstance(r, (str, bytes)) and
                 (r.decode() if isinstance(r, bytes) else r).startswith(prefix))


def hello_reply(name_field=None):
    def ok(r):
        if not isinstance(r, list) or len(r) != 14:
            return False
        fields = dict(zip(r[0::2], r[1::2]))
        return fields[b"proto"] == 2 and fields[b"version"] == b"7.0.15" and \
            fields[b"mode"] == b"standalone" and isinstance(fields[b"id"], int)
    return Check("HELLO's 14-element RESP2 map, version 7.0.15", ok)


def is_int():
    return Check("an integer", lambda r: isinstance(r, int) and not isinstance(r, bool))


NOT_IN_CONTEXT = ("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                  "QUIT / RESET are allowed in this context")

# name -> (server flags, steps). Server flags are what the server (redis-server, tiercache-l2,
# or the sidecar) is started with.
SCENARIOS = {
    "auth_without_password": ({}, [
        (["AUTH", "x"], err("ERR AUTH <password> called without any password configured for "
                            "the default user. Are you sure your configuration is correct?")),
        (["AUTH", "a", "b", "c"], err("ERR syntax error")),
        (["AUTH", "default", "anything"], "OK"),  # `default` is nopass
        (["AUTH", "someone", "x"],
         err("WRONGPASS invalid username-password pair or user is disabled.")),
        (["HELLO", "2", "AUTH", "someone", "x"],
         err("WRONGPASS invalid username-password pair or user is disabled.")),
        (["PING"], "PONG"),
    ]),
    "auth_with_password": ({"requirepass": "s3cret"}, [
        (["GET", "k"], err("NOAUTH Authentication required.")),
        (["PING"], err("NOAUTH Authentication required.")),
        (["CLIENT", "ID"], err("NOAUTH Authentication required.")),
        (["AUTH", "wrong"], err("WRONGPASS invalid username-password pair or user is disabled.")),
        (["AUTH", "default", "wrong"],
         err("WRONGPASS invalid username-password pair or user is disabled.")),
        (["HELLO", "2"], startswith("NOAUTH HELLO must be called with the client already "
                                    "authenticated")),
        (["HELLO", "2", "AUTH", "default", "wrong"],
         err("WRONGPASS invalid username-password pair or user is disabled.")),
        (["GET", "k"], err("NOAUTH Authentication required.")),
        (["HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "app1"], hello_reply()),
        (["CLIENT", "GETNAME"], b"app1"),
        (["GET", "k"], None),
        (["HELLO", "2", "SETNAME", "a b"],
         err("ERR Client names cannot contain spaces, newlines or special characters.")),
        (["HELLO", "2", "SETNAME"], err("ERR Syntax error in HELLO option 'SETNAME'")),
        (["HELLO", "x"], err("ERR Protocol version is not an integer or out of range")),
        (["HELLO", "4"], err("NOPROTO unsupported protocol version")),
        (["HELLO", "2", "FOO"], err("ERR Syntax error in HELLO option 'FOO'")),
        (["HELLO"], hello_reply()),
        (["CLIENT", "GETNAME"], b"app1"),
        (["AUTH", "s3cret"], "OK"),
    ]),
    "select": ({"databases": 4}, [
        (["SELECT", "3"], "OK"),
        (["SELECT", "4"], err("ERR DB index is out of range")),
        (["SELECT", "-1"], err("ERR DB index is out of range")),
        (["SELECT", "x"], err("ERR value is not an integer or out of range")),
        (["SELECT", "1", "2"], err("ERR wrong number of arguments for 'select' command")),
    ]),
    "subscribed_mode": ({}, [
        (["SUBSCRIBE", "ch"], [b"subscribe", b"ch", 1]),
        (["PING"], [b"pong", b""]),
        (["PING", "hi"], [b"pong", b"hi"]),
        (["GET", "k"], err(NOT_IN_CONTEXT)),
        (["UNSUBSCRIBE"], [b"unsubscribe", b"ch", 0]),
        (["PING"], "PONG"),
        (["SUBSCRIBE", "ch"], [b"subscribe", b"ch", 1]),
        (["RESET"], "RESET"),
        (["PING"], "PONG"),
        (["GET", "k"], None),
    ]),
    "multi_rules": ({}, [
        (["EXEC"], err("ERR EXEC without MULTI")),
        (["DISCARD"], err("ERR DISCARD without MULTI")),
        (["MULTI"], "OK"),
        (["MULTI"], err("ERR MULTI calls can not be nested")),  # not a refusal: EXEC runs
        (["WATCH", "k"], err("ERR WATCH inside MULTI is not allowed")),  # nor this
        (["SET", "k", "v"], "QUEUED"),
        (["UNWATCH"], "QUEUED"),
        (["EXEC"], ["OK", "OK"]),
        (["MULTI"], "OK"),
        (["SET", "k", "w"], "QUEUED"),
        (["DISCARD"], "OK"),
        (["GET", "k"], b"v"),
    ]),
    "refusal_inside_multi_aborts_exec": ({}, [
        (["MULTI"], "OK"),
        (["SET", "k", "v"], "QUEUED"),
        (["NOSUCHCMD", "a"], err("ERR unknown command 'NOSUCHCMD', with args beginning with: "
                                 "'a' ")),
        (["GET"], err("ERR wrong number of arguments for 'get' command")),
        (["EXEC"], err("EXECABORT Transaction discarded because of previous errors.")),
        (["GET", "k"], None),
        (["MULTI"], "OK"),
        (["GET"], err("ERR wrong number of arguments for 'get' command")),
        (["DISCARD"], "OK"),
        (["MULTI"], "OK"),
        (["SET", "k", "v2"], "QUEUED"),
        (["EXEC"], ["OK"]),  # the refusal before DISCARD is forgotten
    ]),
    "refused_exec_discards_and_unwatches": ({}, [
        # Redis's execCommandAbort: any refusal of EXEC itself (arity, NOAUTH, subscribed
        # mode, -BUSY...) ends the transaction and unwatches, worded after the refusal.
        (["WATCH", "k"], "OK"),
        (["SET", "k", "1"], "OK"),  # touches the watched key: a watched EXEC would abort
        (["EXEC", "x"], err("EXECABORT Transaction discarded because of: wrong number of "
                            "arguments for 'exec' command")),
        (["MULTI"], "OK"),
        (["GET", "k"], "QUEUED"),
        (["EXEC"], [b"1"]),  # unwatched by the refusal
        (["MULTI"], "OK"),
        (["SET", "a", "1"], "QUEUED"),
        (["EXEC", "x"], err("EXECABORT Transaction discarded because of: wrong number of "
                            "arguments for 'exec' command")),
        (["EXEC"], err("ERR EXEC without MULTI")),
        (["GET", "a"], None),
    ]),
    "subcommand_checked_before_queueing": ({}, [
        # Redis checks a container's subcommand (its name, then its own arity) before queueing
        (["MULTI"], "OK"),
        (["CONFIG", "GET"], err("ERR wrong number of arguments for 'config|get' command")),
        (["object", "encoding"], err("ERR wrong number of arguments for 'object|encoding' "
                                     "command")),
        (["CLIENT", "no-evict"], err("ERR wrong number of arguments for 'client|no-evict' "
                                     "command")),
        (["MEMORY", "Usage"], err("ERR wrong number of arguments for 'memory|usage' command")),
        (["CONFIG", "nosuch"], err("ERR unknown subcommand 'nosuch'. Try CONFIG HELP.")),
        (["COMMAND", "nosuch", "x"], err("ERR unknown subcommand 'nosuch'. Try COMMAND HELP.")),
        (["CONFIG"], err("ERR wrong number of arguments for 'config' command")),
        (["CONFIG", "GET", "maxmemory"], "QUEUED"),
        (["EXEC"], err("EXECABORT Transaction discarded because of previous errors.")),
        # outside MULTI the same words
        (["CONFIG", "SET", "maxmemory"], err("ERR wrong number of arguments for 'config|set' "
                                             "command")),
        (["OBJECT", "HELP", "x"], err("ERR wrong number of arguments for 'object|help' "
                                      "command")),
    ]),
    "client_no_evict": ({}, [
        (["CLIENT", "NO-EVICT", "maybe"], err("ERR syntax error")),
        (["CLIENT", "NO-EVICT", "on"], "OK"),
        (["CLIENT", "INFO"], Check("flags=e", lambda r: b" flags=e " in r)),
        (["CLIENT", "NO-EVICT", "OFF"], "OK"),
        (["CLIENT", "INFO"], Check("flags=N", lambda r: b" flags=N " in r)),
        (["CLIENT", "NO-EVICT", "on"], "OK"),
        (["RESET"], "RESET"),  # Redis 7.0 keeps it (7.2's RESET clears it)
        (["CLIENT", "INFO"], Check("flags=e", lambda r: b" flags=e " in r)),
    ]),
    "quit_inside_multi": ({}, [
        (["MULTI"], "OK"),
        (["SET", "k", "v"], "QUEUED"),
        (["QUIT"], "OK"),
        CLOSED,
    ]),
    "reset_inside_multi": ({}, [
        (["MULTI"], "OK"),
        (["SET", "k", "v"], "QUEUED"),
        (["RESET"], "RESET"),
        (["EXEC"], err("ERR EXEC without MULTI")),
        (["GET", "k"], None),
    ]),
    "client": ({}, [
        (["CLIENT", "SETNAME", "a b"],
         err("ERR Client names cannot contain spaces, newlines or special characters.")),
        (["CLIENT", "SETNAME", "app"], "OK"),
        (["CLIENT", "GETNAME"], b"app"),
        (["CLIENT", "GETNAME", "x"],
         err("ERR wrong number of arguments for 'client|getname' command")),
        (["CLIENT", "NOSUCH"], err("ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.")),
        (["CLIENT", "ID"], is_int()),
        (["CLIENT", "INFO"], Check("a line of this client", lambda r: isinstance(r, bytes) and
                                   r.startswith(b"id=") and b" name=app " in r and
                                   b" db=0 " in r and b" cmd=client|info " in r and
                                   r.endswith(b" resp=2\n"))),
        (["CLIENT", "KILL", "1.2.3.4:5"], err("ERR No such client")),
        (["CLIENT", "KILL", "ID", "999999"], 0),
        (["CLIENT", "KILL", "ID", "0"], err("ERR client-id should be greater than 0")),
        (["CLIENT", "KILL", "TYPE", "bogus"], err("ERR Unknown client type 'bogus'")),
        (["CLIENT", "LIST", "TYPE", "bogus"], err("ERR Unknown client type 'bogus'")),
        (["CLIENT", "LIST", "TYPE", "pubsub"], b""),
        (["CLIENT", "REPLY", "ON"], "OK"),
        (["CLIENT", "REPLY", "MAYBE"], err("ERR syntax error")),
        (["CLIENT", "SETNAME", ""], "OK"),
        (["CLIENT", "GETNAME"], None),
    ]),
}

# COMMAND INFO flags of the connection and transaction commands, as redis-server 7.0 reports
# them, limited to the flags tiercache's table models (it has no stale/...). Every one but PING
# runs while the RDB file loads.
MODELLED_FLAGS = {"write", "readonly", "denyoom", "admin", "pubsub", "noscript", "fast",
                  "no_auth", "no_multi", "allow_busy", "loading"}
COMMAND_FLAGS = {
    "ping": {"fast"},
    "echo": {"fast", "loading"},
    "select": {"fast", "loading"},
    "quit": {"noscript", "fast", "no_auth", "allow_busy", "loading"},
    "auth": {"noscript", "fast", "no_auth", "allow_busy", "loading"},
    "hello": {"noscript", "fast", "no_auth", "allow_busy", "loading"},
    "reset": {"noscript", "fast", "no_auth", "allow_busy", "loading"},
    "multi": {"noscript", "fast", "allow_busy", "loading"},
    "exec": {"noscript", "loading"},
    "discard": {"noscript", "fast", "allow_busy", "loading"},
    "watch": {"noscript", "fast", "allow_busy", "loading"},
    "unwatch": {"noscript", "fast", "allow_busy", "loading"},
}


def last_commands(list_conn, other_conn, requests):
    """CLIENT LIST's cmd= of other_conn after each request it sends (list_conn asks)."""
    other_id = other_conn.cmd("CLIENT", "ID")
    seen = []
    for req in requests:
        other_conn.cmd(*req)
        lines = list_conn.cmd("CLIENT", "LIST", "ID", str(other_id)).decode().split()
        seen.append(dict(f.split("=", 1) for f in lines)["cmd"])
    return seen


# A request's command as CLIENT LIST shows it (Redis's lastcmd): containers with their
# subcommand, an unknown command as NULL, EXEC (not what it ran), a script's caller as eval.
LAST_COMMANDS = [
    (["SET", "k", "v"], "set"),
    (["CONFIG", "GET", "maxmemory"], "config|get"),
    (["NOSUCHCMD"], "NULL"),
    (["client", "ID"], "client|id"),
    (["MULTI"], "multi"),
    (["GET", "k"], "get"),
    (["EXEC"], "exec"),
    (["EVAL", "return redis.call('get', KEYS[1])", "1", "k"], "eval"),
    (["PING"], "ping"),
]


def flags_of(entry):
    return {f.decode() if isinstance(f, bytes) else f for f in entry[2]} & MODELLED_FLAGS


def play(conn, steps):
    """Plays the steps on a RawConn; asserts each reply. Returns the transcript."""
    transcript = []
    for step in steps:
        if step is CLOSED:
            conn.expect_closed()
            transcript.append("closed")
            continue
        request, expected = step
        reply = conn.cmd(*request)
        transcript.append((request, reply))
        if isinstance(expected, Check):
            assert expected.predicate(reply), \
                "%r answered %r, expected %r" % (request, reply, expected)
        else:
            assert reply == expected and type(reply) is type(expected), \
                "%r answered %r (%s), expected %r (%s)" % (
                    request, reply, type(reply).__name__, expected, type(expected).__name__)
    return transcript
