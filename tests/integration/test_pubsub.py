"""Pub/sub in RESP2: SUBSCRIBE/UNSUBSCRIBE/PSUBSCRIBE/PUNSUBSCRIBE/PUBLISH, PUBSUB
introspection, pattern messages and the commands allowed in subscribed state."""

import time

import pytest

from helpers import wait_until

SUBSCRIBED_CONTEXT = ("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                      "QUIT / RESET are allowed in this context")


def test_subscribe_publish_unsubscribe(server, raw):
    pub = server.raw()
    raw.send(b"SUBSCRIBE news sport\r\n")
    assert raw.read_reply() == [b"subscribe", b"news", 1]
    assert raw.read_reply() == [b"subscribe", b"sport", 2]
    assert pub.cmd("PUBLISH", "news", "hello") == 1
    assert raw.read_reply() == [b"message", b"news", b"hello"]
    assert pub.cmd("PUBLISH", "sport", b"\x00bin\r\n") == 1
    assert raw.read_reply() == [b"message", b"sport", b"\x00bin\r\n"]
    assert pub.cmd("PUBLISH", "nobody", "x") == 0
    raw.send(b"UNSUBSCRIBE news\r\n")
    assert raw.read_reply() == [b"unsubscribe", b"news", 1]
    assert pub.cmd("PUBLISH", "news", "gone") == 0
    raw.send(b"UNSUBSCRIBE\r\n")  # all remaining
    assert raw.read_reply() == [b"unsubscribe", b"sport", 0]
    # back in normal mode
    assert raw.cmd("SET", "a", "1") == "OK"
    raw.assert_no_reply(0.1)


def test_unsubscribe_when_not_subscribed(raw):
    raw.send(b"UNSUBSCRIBE\r\n")
    assert raw.read_reply() == [b"unsubscribe", None, 0]
    raw.send(b"PUNSUBSCRIBE\r\n")
    assert raw.read_reply() == [b"punsubscribe", None, 0]
    raw.send(b"UNSUBSCRIBE x\r\n")
    assert raw.read_reply() == [b"unsubscribe", b"x", 0]


def test_subscribe_same_channel_twice_counts_once(server, raw):
    raw.send(b"SUBSCRIBE c c\r\n")
    assert raw.read_reply() == [b"subscribe", b"c", 1]
    assert raw.read_reply() == [b"subscribe", b"c", 1]
    assert server.raw().cmd("PUBLISH", "c", "m") == 1
    assert raw.read_reply() == [b"message", b"c", b"m"]
    raw.assert_no_reply(0.1)


def test_publish_counts_every_receiver(server, raw):
    subs = [server.raw() for _ in range(3)]
    for s in subs:
        s.send(b"SUBSCRIBE ch\r\n")
        assert s.read_reply()[0] == b"subscribe"
    psub = server.raw()
    psub.send(b"PSUBSCRIBE c* ch\r\n")
    assert psub.read_reply() == [b"psubscribe", b"c*", 1]
    assert psub.read_reply() == [b"psubscribe", b"ch", 2]
    # 3 channel subscribers + 2 matching patterns of one client
    assert raw.cmd("PUBLISH", "ch", "payload") == 5
    for s in subs:
        assert s.read_reply() == [b"message", b"ch", b"payload"]
    got = sorted([psub.read_reply(), psub.read_reply()])
    assert got == [[b"pmessage", b"c*", b"ch", b"payload"],
                   [b"pmessage", b"ch", b"ch", b"payload"]]


def test_psubscribe_patterns(server, raw):
    pub = server.raw()
    raw.send(b"PSUBSCRIBE news.* h?llo [ab]x\r\n")
    assert raw.read_reply() == [b"psubscribe", b"news.*", 1]
    assert raw.read_reply() == [b"psubscribe", b"h?llo", 2]
    assert raw.read_reply() == [b"psubscribe", b"[ab]x", 3]
    assert pub.cmd("PUBLISH", "news.tech", "1") == 1
    assert raw.read_reply() == [b"pmessage", b"news.*", b"news.tech", b"1"]
    assert pub.cmd("PUBLISH", "hallo", "2") == 1
    assert raw.read_reply() == [b"pmessage", b"h?llo", b"hallo", b"2"]
    assert pub.cmd("PUBLISH", "bx", "3") == 1
    assert raw.read_reply() == [b"pmessage", b"[ab]x", b"bx", b"3"]
    assert pub.cmd("PUBLISH", "cx", "4") == 0
    assert pub.cmd("PUBLISH", "news", "5") == 0
    raw.send(b"PUNSUBSCRIBE news.*\r\n")
    assert raw.read_reply() == [b"punsubscribe", b"news.*", 2]
    assert pub.cmd("PUBLISH", "news.tech", "6") == 0
    raw.send(b"PUNSUBSCRIBE\r\n")
    replies = sorted([raw.read_reply(), raw.read_reply()], key=lambda x: x[2], reverse=True)
    assert replies == [[b"punsubscribe", b"h?llo", 1], [b"punsubscribe", b"[ab]x", 0]] or \
        replies == [[b"punsubscribe", b"[ab]x", 1], [b"punsubscribe", b"h?llo", 0]]
    assert raw.cmd("PING") == "PONG"


def test_channel_and_pattern_subscriptions_counted_together(server, raw):
    raw.send(b"SUBSCRIBE a\r\n")
    assert raw.read_reply() == [b"subscribe", b"a", 1]
    raw.send(b"PSUBSCRIBE p*\r\n")
    assert raw.read_reply() == [b"psubscribe", b"p*", 2]
    raw.send(b"UNSUBSCRIBE a\r\n")
    assert raw.read_reply() == [b"unsubscribe", b"a", 1]  # still subscribed to the pattern
    raw.send(b"GET a\r\n")
    assert raw.read_reply() == SUBSCRIBED_CONTEXT % "get"
    raw.send(b"PUNSUBSCRIBE p*\r\n")
    assert raw.read_reply() == [b"punsubscribe", b"p*", 0]
    assert raw.cmd("GET", "a") is None


def test_pubsub_channels_numsub_numpat(server, raw):
    a, b, c = server.raw(), server.raw(), server.raw()
    a.send(b"SUBSCRIBE news.tech news.art\r\n")
    a.read_replies(2)
    b.send(b"SUBSCRIBE news.tech other\r\n")
    b.read_replies(2)
    c.send(b"PSUBSCRIBE x* y*\r\n")
    c.read_replies(2)
    d = server.raw()
    d.send(b"PSUBSCRIBE x*\r\n")
    d.read_reply()
    assert sorted(raw.cmd("PUBSUB", "CHANNELS")) == [b"news.art", b"news.tech", b"other"]
    assert sorted(raw.cmd("PUBSUB", "CHANNELS", "news.*")) == [b"news.art", b"news.tech"]
    assert raw.cmd("PUBSUB", "CHANNELS", "z*") == []
    assert raw.cmd("PUBSUB", "NUMSUB", "news.tech", "other", "none") == \
        [b"news.tech", 2, b"other", 1, b"none", 0]
    assert raw.cmd("PUBSUB", "NUMSUB") == []
    assert raw.cmd("PUBSUB", "NUMPAT") == 2  # unique patterns
    # a disconnected subscriber is removed
    b.close()
    assert wait_until(lambda: raw.cmd("PUBSUB", "NUMSUB", "other") == [b"other", 0], 3)
    assert raw.cmd("PUBSUB", "NUMSUB", "news.tech") == [b"news.tech", 1]


@pytest.mark.parametrize("cmd", ["GET", "SET", "PUBLISH", "MULTI", "SELECT"])
def test_only_pubsub_commands_allowed_when_subscribed(raw, cmd):
    raw.send(b"SUBSCRIBE ch\r\n")
    raw.read_reply()
    args = {"GET": ("GET", "a"), "SET": ("SET", "a", "1"), "PUBLISH": ("PUBLISH", "ch", "x"),
            "MULTI": ("MULTI",), "SELECT": ("SELECT", "1")}[cmd]
    assert raw.cmd(*args) == SUBSCRIBED_CONTEXT % cmd.lower()
    # the connection stays subscribed and usable
    raw.send(b"PING\r\n")
    assert raw.read_reply() == [b"pong", b""]
    raw.send(b"PING hi\r\n")
    assert raw.read_reply() == [b"pong", b"hi"]


def test_quit_while_subscribed(server, raw):
    raw.send(b"SUBSCRIBE ch\r\n")
    raw.read_reply()
    raw.send(b"QUIT\r\n")
    assert raw.expect_closed() == b"+OK\r\n"
    assert wait_until(lambda: server.raw().cmd("PUBLISH", "ch", "x") == 0, 3)


def test_redis_py_pubsub(server, r):
    p = r.pubsub()
    p.subscribe("inval")
    p.psubscribe("inval.*")
    deadline = time.monotonic() + 5
    confirmations = []
    while len(confirmations) < 2 and time.monotonic() < deadline:
        m = p.get_message(timeout=1)
        if m:
            confirmations.append(m["type"])
    assert sorted(confirmations) == ["psubscribe", "subscribe"]
    assert server.client().publish("inval", b"\x81\xa1k") == 1
    assert server.client().publish("inval.db0", b"x") == 1
    got = []
    while len(got) < 2 and time.monotonic() < deadline:
        m = p.get_message(timeout=1)
        if m:
            got.append((m["type"], m["channel"], m["data"]))
    assert got == [("message", b"inval", b"\x81\xa1k"), ("pmessage", b"inval.db0", b"x")]
    p.close()


def test_pubsub_ignores_the_selected_db(server, raw):
    raw.send(b"SUBSCRIBE anydb\r\n")
    raw.read_reply()
    pub = server.raw()
    assert pub.cmd("SELECT", "9") == "OK"
    assert pub.cmd("PUBLISH", "anydb", "from 9") == 1
    assert raw.read_reply() == [b"message", b"anydb", b"from 9"]


def test_many_messages_arrive_in_order(server, raw):
    raw.send(b"SUBSCRIBE seq\r\n")
    raw.read_reply()
    pub = server.raw()
    pub.send(b"".join(b"PUBLISH seq %d\r\n" % i for i in range(2000)))
    assert pub.read_replies(2000) == [1] * 2000
    got = raw.read_replies(2000)
    assert got == [[b"message", b"seq", b"%d" % i] for i in range(2000)]


def test_publish_arity(raw):
    assert raw.cmd("PUBLISH", "ch") == "ERR wrong number of arguments for 'publish' command"
    assert raw.cmd("SUBSCRIBE") == "ERR wrong number of arguments for 'subscribe' command"
