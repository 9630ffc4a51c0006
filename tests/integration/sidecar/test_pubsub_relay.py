"""Client pub/sub through the sidecar's relay answers (un)subscriptions as the L2 does, also
where hiredis would refuse or abort: unsubscribing with nothing subscribed, unsubscribing twice
from the last channel in one pipeline (Celery's result consumer does), names never subscribed
mixed with held ones. Each exchange is played through the sidecar and on a direct L2
connection (redis-server or tiercache-l2) and must answer the same."""

from helpers import encode

# (requests sent in one write, replies expected)
EXCHANGES = [
    ([("UNSUBSCRIBE",)], 1),
    ([("PUNSUBSCRIBE", "p*")], 1),
    ([("SUBSCRIBE", "a"), ("UNSUBSCRIBE", "a"), ("UNSUBSCRIBE", "a")], 3),
    ([("SUBSCRIBE", "a", "b"), ("PSUBSCRIBE", "p*"), ("UNSUBSCRIBE",), ("UNSUBSCRIBE",),
      ("PUNSUBSCRIBE", "p*", "q*")], 8),
    ([("SUBSCRIBE", "a"), ("UNSUBSCRIBE", "a", "zz"), ("UNSUBSCRIBE", "a")], 4),
    ([("PSUBSCRIBE", "x*"), ("UNSUBSCRIBE",), ("PUNSUBSCRIBE",), ("PUNSUBSCRIBE",)], 4),
]


def replies_of(conn, exchange, n):
    conn.send(b"".join(encode(*req) for req in exchange))
    return [conn.read_reply(5.0) for _ in range(n)]


def test_relay_confirmations_match_the_l2(cluster):
    for exchange, n in EXCHANGES:
        via = replies_of(cluster.a.raw(), exchange, n)
        direct = replies_of(cluster.l2.raw(auth=True), exchange, n)
        assert via == direct, (exchange, via, direct)
    # The sidecar is still there and relays messages.
    r = cluster.a.raw()
    assert r.cmd("SUBSCRIBE", "m") == [b"subscribe", b"m", 1]
    cluster.b.client().publish("m", "hello")
    assert r.read_reply(5.0) == [b"message", b"m", b"hello"]
