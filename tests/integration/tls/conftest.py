"""Fixtures for the TLS tests of a server (tiercache-l2, or redis-server as the reference):
the generated certificates and a server with a TLS port next to its plain one."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tlscerts  # noqa: E402
from servers import free_port  # noqa: E402


@pytest.fixture(scope="session")
def certs():
    return tlscerts.certs()


@pytest.fixture
def tls_server(server_factory, certs):
    """tls_server(**flags) -> Server with .tls_port (mutual TLS unless flags say otherwise)."""
    def make(server="server", **flags):
        f = tlscerts.l2_tls_flags(certs, server, **flags)
        f["tls_port"] = free_port()
        s = server_factory(**f)
        s.tls_port = f["tls_port"]
        return s
    return make
