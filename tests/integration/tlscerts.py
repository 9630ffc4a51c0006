"""Certificates for the TLS tests, made with the openssl command once per test process: a CA,
a server certificate (localhost and 127.0.0.1) and a client certificate it signed, an expired
server and an expired client certificate, and a foreign CA with a server and a client
certificate of its own. certs() returns a dict of paths (ca, server_crt, server_key, ...)."""

import atexit
import os
import shutil
import subprocess
import tempfile

_DIR = None


def _run(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def _ca(d, name):
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(d, name + ".key"),
         "-out", os.path.join(d, name + ".crt"), "-days", "30", "-subj", "/CN=tiercache test " + name)


def _leaf(d, ca, name, cn, days, san=None):
    key, csr, crt = (os.path.join(d, name + ext) for ext in (".key", ".csr", ".crt"))
    _run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
    args = ["x509", "-req", "-in", csr, "-CA", os.path.join(d, ca + ".crt"),
            "-CAkey", os.path.join(d, ca + ".key"), "-CAcreateserial", "-out", crt,
            "-days", str(days)]
    if san:
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % san)
        args += ["-extfile", ext]
    _run(*args)
    return crt, key


def certs():
    global _DIR
    if _DIR is None:
        d = tempfile.mkdtemp(prefix="tc-tls-")
        atexit.register(shutil.rmtree, d, True)
        _ca(d, "ca")
        _ca(d, "foreign_ca")
        san = "DNS:localhost,IP:127.0.0.1"
        _leaf(d, "ca", "server", "localhost", 30, san)
        _leaf(d, "ca", "client", "tiercache-client", 30)
        _leaf(d, "ca", "expired_server", "localhost", -1, san)  # notAfter yesterday
        _leaf(d, "ca", "expired_client", "tiercache-client", -1)
        _leaf(d, "foreign_ca", "foreign_server", "localhost", 30, san)
        _leaf(d, "foreign_ca", "foreign_client", "tiercache-client", 30)
        _leaf(d, "ca", "other_name", "elsewhere.example", 30, "DNS:elsewhere.example")
        _DIR = d
    p = lambda n: os.path.join(_DIR, n)  # noqa: E731
    out = {"dir": _DIR, "ca": p("ca.crt"), "foreign_ca": p("foreign_ca.crt")}
    for leaf in ("server", "client", "expired_server", "expired_client", "foreign_server",
                 "foreign_client", "other_name"):
        out[leaf + "_crt"] = p(leaf + ".crt")
        out[leaf + "_key"] = p(leaf + ".key")
    return out


def l2_tls_flags(c, server="server", **extra):
    """tls-* flags (underscored, for ServerFactory) serving `server`'s certificate."""
    flags = {"tls_port": None, "tls_cert_file": c[server + "_crt"],
             "tls_key_file": c[server + "_key"], "tls_ca_cert_file": c["ca"]}
    flags.update(extra)
    return flags
