"""The console entry points `tiercache-l2` and `tiercache-sidecar` of the wheel: they replace
this Python process with the server binary shipped in the package (tiercache/bin/), so signals,
the exit status and the process id are the server's own (systemd, supervisors, `kill`)."""

import os
import sys

BIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin")


def binary(name):
    """The path of a server binary shipped in the package: binary("tiercache-l2")."""
    return os.path.join(BIN_DIR, name)


def _exec(name):
    path = binary(name)
    if not os.access(path, os.X_OK):
        sys.exit("%s: %s is missing; this tiercache package was not installed from the wheel "
                 "(build the servers with CMake instead, see docs/install.md)" % (name, path))
    os.execv(path, [path] + sys.argv[1:])


def l2():
    _exec("tiercache-l2")


def sidecar():
    _exec("tiercache-sidecar")
