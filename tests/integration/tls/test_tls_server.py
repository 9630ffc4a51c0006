"""TLS on the server under test (tiercache-l2 and, as the reference, redis-server 7.0 with the
same flags): redis-cli --tls and redis-py with ssl, mutual TLS and tls-auth-clients, and each
refusal (wrong CA, expired certificates, wrong server name, plain text to the TLS port, TLS to
the plain port) as a clear error on the client."""

import ssl
import subprocess

import pytest
import redis


def tls_client(s, certs, cert="client", ca="ca", **kw):
    kw.setdefault("socket_timeout", 10)
    if cert:
        kw["ssl_certfile"] = certs[cert + "_crt"]
        kw["ssl_keyfile"] = certs[cert + "_key"]
    return redis.Redis(host="127.0.0.1", port=s.tls_port, ssl=True, ssl_ca_certs=certs[ca],
                       ssl_cert_reqs="required", **kw)


def cli(s, certs, *args, cert="client", ca="ca", tls=True, port=None):
    argv = ["redis-cli", "-p", str(port or s.tls_port)]
    if tls:
        argv += ["--tls", "--cacert", certs[ca]]
        if cert:
            argv += ["--cert", certs[cert + "_crt"], "--key", certs[cert + "_key"]]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=20)


def test_redis_cli_tls_set_get(tls_server, certs):
    s = tls_server()
    assert cli(s, certs, "SET", "k", "over tls").stdout.strip() == "OK"
    assert cli(s, certs, "GET", "k").stdout.strip() == "over tls"
    # The same keyspace as the plain port.
    assert s.client().get("k") == b"over tls"


def test_redis_py_ssl_commands_and_pipeline(tls_server, certs):
    s = tls_server()
    c = tls_client(s, certs)
    assert c.ping()
    big = b"x" * (3 << 20)  # several TLS records each way
    assert c.set("big", big)
    assert c.get("big") == big
    p = c.pipeline(transaction=False)
    for i in range(500):
        p.set("p%d" % i, i)
        p.get("p%d" % i)
    out = p.execute()
    assert out[1::2] == [str(i).encode() for i in range(500)]
    c.close()


def test_mutual_tls_required_by_default(tls_server, certs):
    s = tls_server()
    with pytest.raises(redis.ConnectionError):
        tls_client(s, certs, cert=None).ping()
    r = cli(s, certs, "PING", cert=None)
    assert "PONG" not in r.stdout and r.stderr.strip().startswith(("Error", "Could not")), r


def test_tls_auth_clients_no_and_optional(tls_server, certs):
    s = tls_server(tls_auth_clients="no")
    assert tls_client(s, certs, cert=None).ping()
    o = tls_server(tls_auth_clients="optional")
    assert tls_client(o, certs, cert=None).ping()
    assert tls_client(o, certs).ping()
    # optional still checks a certificate that is sent.
    with pytest.raises(redis.ConnectionError):
        tls_client(o, certs, cert="foreign_client").ping()


def test_client_refuses_server_of_foreign_ca(tls_server, certs):
    s = tls_server(server="foreign_server")
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        tls_client(s, certs).ping()


def test_client_refuses_expired_server_certificate(tls_server, certs):
    s = tls_server(server="expired_server")
    with pytest.raises(redis.ConnectionError, match="certificate has expired"):
        tls_client(s, certs).ping()


def test_client_refuses_wrong_server_name(tls_server, certs):
    s = tls_server(server="other_name")
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        tls_client(s, certs, ssl_check_hostname=True).ping()


def test_server_refuses_client_certificates_it_cannot_trust(tls_server, certs):
    s = tls_server()
    for bad in ("foreign_client", "expired_client"):
        with pytest.raises(redis.ConnectionError):
            tls_client(s, certs, cert=bad).ping()
    assert tls_client(s, certs).ping()  # and still serves good clients


def test_plain_text_to_tls_port_is_closed(tls_server, certs):
    s = tls_server()
    c = redis.Redis(host="127.0.0.1", port=s.tls_port, socket_timeout=10)
    with pytest.raises(redis.ConnectionError):
        c.ping()
    r = cli(s, certs, "PING", tls=False)
    assert "PONG" not in r.stdout and "Error" in r.stderr + r.stdout, r
    assert tls_client(s, certs).ping()


def test_tls_to_plain_port_fails_clearly(tls_server, certs):
    s = tls_server()
    c = redis.Redis(host="127.0.0.1", port=s.port, ssl=True, ssl_ca_certs=certs["ca"],
                    ssl_certfile=certs["client_crt"], ssl_keyfile=certs["client_key"],
                    socket_timeout=3, socket_connect_timeout=3)
    # tiercache-l2 answers the ClientHello with a protocol error and closes; redis-server waits
    # for the end of a line that never comes (the client times out).
    with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
        c.ping()
    assert s.client().ping()


def test_protocols_and_ciphersuites(tls_server, certs):
    s = tls_server(tls_protocols="TLSv1.3", tls_ciphersuites="TLS_CHACHA20_POLY1305_SHA256",
                   tls_prefer_server_ciphers="yes")
    c = tls_client(s, certs)
    assert c.ping()
    sock = c.connection_pool.get_connection("PING")._sock
    assert sock.version() == "TLSv1.3"
    assert sock.cipher()[0] == "TLS_CHACHA20_POLY1305_SHA256"
    ctx = ssl.create_default_context(cafile=certs["ca"])
    ctx.load_cert_chain(certs["client_crt"], certs["client_key"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c12 = redis.Redis(host="127.0.0.1", port=s.tls_port, ssl=True, ssl_ca_certs=certs["ca"],
                      ssl_certfile=certs["client_crt"], ssl_keyfile=certs["client_key"],
                      ssl_max_version=ssl.TLSVersion.TLSv1_2, socket_timeout=10) \
        if "ssl_max_version" in redis.Redis.__init__.__code__.co_varnames else None
    if c12 is not None:
        with pytest.raises(redis.ConnectionError):
            c12.ping()


def test_bad_tls_configuration_refuses_to_start(server_factory, certs, target, tmp_path):
    from servers import Server, free_port
    for i, (flags, words) in enumerate((({"tls_cert_file": "/nonexistent.crt"}, "certificate"),
                                        ({"tls_protocols": "TLSv9"}, "tls-protocols"))):
        workdir = tmp_path / f"server{i}"  # pytest removes it (no tc-it-* left in /tmp)
        workdir.mkdir()
        f = {"port": free_port(), "tls_port": free_port(), "tls_cert_file": certs["server_crt"],
             "tls_key_file": certs["server_key"], "tls_ca_cert_file": certs["ca"]}
        f.update(flags)
        s = Server(target, f, str(workdir))
        with pytest.raises(BaseException):
            s.start()  # pytest.fail: exited before answering PING
        s.stopped = True
        if target == "tiercache":
            assert words in s.stderr(), s.stderr()
