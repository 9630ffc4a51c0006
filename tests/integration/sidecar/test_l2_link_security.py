"""The sidecar's link to a TLS L2 and as an ACL user, against both L2s (tiercache-l2 and
redis-server 7.0): mutual TLS for the data link and the bus, refusals as clear errors in the
sidecar's log (wrong CA, expired certificate, wrong server name, TLS to a plain port, plain text
to a TLS port), the sidecar's own TLS listener, and an ACL user's login and refusal at start."""

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tlscerts  # noqa: E402
from servers import free_port  # noqa: E402
from sidecars import ACL_RULES, Sidecar, StartError, wait_for  # noqa: E402


@pytest.fixture(scope="module")
def certs():
    return tlscerts.certs()


def tls_l2(make_cluster, certs, server="server", **extra):
    flags = tlscerts.l2_tls_flags(certs, server, tls_port=free_port(), **extra)
    c = make_cluster(l2_flags=flags)
    c.tls_port = flags["tls_port"]
    return c


def link(certs, cert="client", ca="ca", **extra):
    f = {"l2_tls": "yes", "l2_tls_ca_file": certs[ca]}
    if cert:
        f.update(l2_tls_cert_file=certs[cert + "_crt"], l2_tls_key_file=certs[cert + "_key"])
    f.update(extra)
    return f


def tls_sidecar(c, name, certs, **flags):
    return c.sidecar(name, via="127.0.0.1:%d" % c.tls_port, **dict(link(certs), **flags))


def test_two_hosts_over_mutual_tls(make_cluster, certs):
    c = tls_l2(make_cluster, certs)
    a = tls_sidecar(c, "a", certs, l1_max_ttl_ms=60000)
    b = tls_sidecar(c, "b", certs, l1_max_ttl_ms=60000)
    ca, cb = a.client(), b.client()
    assert ca.set("k", "v1")
    assert cb.get("k") == b"v1"  # filled over TLS, now in b's L1
    assert ca.set("k", "v2")     # the invalidation crosses the TLS bus
    wait_for(lambda: cb.get("k") == b"v2", what="b sees the new value")
    big = os.urandom(2 << 20)
    assert ca.set("big", big) and cb.get("big") == big
    p = ca.pipeline(transaction=False)
    for i in range(300):
        p.set("p%d" % i, i)
    p.execute()
    assert cb.mget(["p%d" % i for i in range(300)]) == [str(i).encode() for i in range(300)]
    assert c.l2_client().get("k") == b"v2"


def test_tls_links_leave_nothing_in_tmpdir(make_cluster, certs, tmp_path):
    """hiredis meets each TLS link connection at a local socket (tls_pump.h), in a directory
    under TMPDIR that is removed as soon as both ends are connected: TMPDIR stays empty while
    the sidecar serves, after its links reconnect, and after a kill -9 (one directory per
    process used to stay there for good)."""
    c = tls_l2(make_cluster, certs)
    tmp = str(tmp_path)
    a = tls_sidecar(c, "a", certs, env=dict(os.environ, TMPDIR=tmp))
    ca = a.client()
    assert ca.set("k", "v") and ca.get("k") == b"v"
    assert os.listdir(tmp) == []
    before = a.info()["l2_reconnects"]
    assert c.l2_client().execute_command("CLIENT", "KILL", "TYPE", "normal") >= 1
    wait_for(lambda: a.info()["l2_reconnects"] > before and ca.get("k") == b"v",
             what="the data link reconnected over TLS")
    assert os.listdir(tmp) == []
    assert a.stop(signal.SIGKILL) == -signal.SIGKILL
    c.sidecars.remove(a)  # killed on purpose: not a failed exit for the teardown to report
    assert os.listdir(tmp) == []


def refused(c, name, certs, words, **flags):
    """Starts a sidecar whose link cannot be made; its log must say why, in these words."""
    s = Sidecar("127.0.0.1:%d" % flags.pop("port", c.tls_port), name, **dict(link(certs), **flags))
    c.sidecars.append(s)
    with pytest.raises(StartError):
        s.start(refused_when=words)  # never healthy; ends once the log says why
    wait_for(lambda: words in s.stderr(), what="%r in the sidecar's log" % words)
    s.stop()
    c.sidecars.remove(s)


def test_refusals_are_clear_errors(make_cluster, certs):
    c = tls_l2(make_cluster, certs)
    refused(c, "wrong-ca", certs, "certificate verify failed", l2_tls_ca_file=certs["foreign_ca"])
    refused(c, "wrong-name", certs, "certificate verify failed",
            l2_tls_server_name="elsewhere.example")
    refused(c, "no-cert", certs, "TLS", l2_tls_cert_file="", l2_tls_key_file="")
    refused(c, "plain-port", certs, "TLS handshake with L2", port=c.l2.port)
    # Plain text to the TLS port: never healthy (tiercache-l2 closes the connection, which the
    # log says; redis-server may keep it open, the bus then times out).
    s = Sidecar("127.0.0.1:%d" % c.tls_port, "plain-to-tls", l1_max_ttl_ms=1000)
    c.sidecars.append(s)
    with pytest.raises(StartError):
        s.start()
    if c.l2_kind == "tiercache":
        wait_for(lambda: "L2" in s.stderr(), what="a link error in the log")
    s.stop()
    c.sidecars.remove(s)


def test_expired_l2_certificate_is_refused(make_cluster, certs):
    c = tls_l2(make_cluster, certs, server="expired_server")
    refused(c, "expired", certs, "certificate has expired")


def test_server_name_override(make_cluster, certs):
    c = tls_l2(make_cluster, certs, server="other_name")
    s = tls_sidecar(c, "named", certs, l2_tls_server_name="elsewhere.example")
    assert s.client().set("n", "1") and s.client().get("n") == b"1"


def test_sidecar_tls_listener(make_cluster, certs):
    c = make_cluster()
    port = free_port()
    s = c.sidecar("tlsl", tls_port=port, tls_cert_file=certs["server_crt"],
                  tls_key_file=certs["server_key"], tls_ca_cert_file=certs["ca"])
    t = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs["ca"],
                    ssl_certfile=certs["client_crt"], ssl_keyfile=certs["client_key"],
                    socket_timeout=10)
    assert t.set("x", "over tls") and s.client().get("x") == b"over tls"
    assert t.get("x") == b"over tls"
    with pytest.raises(redis.ConnectionError):  # mutual TLS by default, as Redis
        redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs["ca"],
                    socket_timeout=10).ping()
    r = subprocess.run(["redis-cli", "-p", str(port), "--tls", "--cacert", certs["ca"], "--cert",
                        certs["client_crt"], "--key", certs["client_key"], "GET", "x"],
                       capture_output=True, text=True, timeout=20)
    assert r.stdout.strip() == "over tls"
    t.close()


def acl_cluster(make_cluster, l2_kind):
    if l2_kind == "redis":
        c = make_cluster()
        c.l2.client().execute_command("ACL", "SETUSER", "sc", *(ACL_RULES[:1] + [">pw"]
                                                              + ACL_RULES[2:]))
        return c, "sc"
    return make_cluster(l2_flags={"requirepass": "pw"}), "default"


def test_acl_user_serves_and_wrong_credentials_stop_the_start(make_cluster, l2_kind):
    c, user = acl_cluster(make_cluster, l2_kind)
    s = c.sidecar("acl", l2_user=user, l2_password="pw")
    assert s.client().set("a", "1") and s.client().get("a") == b"1"
    for bad_user, bad_pw in ((user, "wrong"), ("nobody", "pw")):
        b = Sidecar("127.0.0.1:%d" % c.l2.port, "bad-" + bad_user, l2_user=bad_user,
                    l2_password=bad_pw)
        with pytest.raises(StartError) as e:
            b.start()
            time.sleep(5)  # pragma: no cover (start must fail)
        assert "exited with 1" in str(e.value)
        assert "WRONGPASS" in str(e.value) and "check --l2-user" in str(e.value), e.value
        b.stop()
