"""Where the built things are, for the demo (topology.py beside it), every test suite and every
benchmark: the
repository, the build tree ($TIERCACHE_BUILD_DIR, default build/), the binaries in it, and
free TCP ports. No dependencies beyond the standard library."""

import os
import socket

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def build_dir():
    return os.environ.get("TIERCACHE_BUILD_DIR", os.path.join(REPO, "build"))


def l2_binary():
    return os.path.join(build_dir(), "l2", "tiercache-l2")


def sidecar_binary():
    return os.path.join(build_dir(), "sidecar", "tiercache-sidecar")


_ports_handed_out = set()


def free_port():
    """A TCP port that is free now and not handed out before in this process."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_handed_out:
            _ports_handed_out.add(port)
            return port
    raise RuntimeError("no free port")
