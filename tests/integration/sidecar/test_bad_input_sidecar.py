"""The bad-input rows (tests/integration/test_bad_input.py) against the sidecar: the same test
functions, with `server` standing for a sidecar in front of an L2. Rows that need L2-only flags
(maxclients, requirepass, output limits by class) are covered for the sidecar in
tests/hardening; rows 14 and 15 check that the L2's errors come back through the sidecar's
write path (MULTI ... EXEC) unchanged."""
import time

import pytest

from servers import free_port
from sidecars import Cluster
from test_bad_input import (  # noqa: F401  (collected here against the sidecar)
    test_client_vanishing_mid_reply_does_not_hurt_others, test_row01_bare_crlf_is_ignored,
    test_row02_negative_and_zero_multibulk_are_empty_commands, test_row03_huge_multibulk_length,
    test_row03_non_numeric_multibulk_length, test_row04_missing_dollar,
    test_row05_invalid_bulk_length, test_row06_bulk_count_line_too_long,
    test_row06_mbulk_count_line_too_long, test_row07_inline_just_under_limit_works,
    test_row07_inline_too_big, test_row07_inline_unbalanced_quotes,
    test_row08_nul_then_endless_lines_closed_early, test_row09_ping_wrong_arity_inline_and_multibulk,
    test_row10_unknown_command, test_row12_http_closes_without_reply,
    test_row12_http_request_with_get_line_closes, test_row13_byte_by_byte,
    test_row13_large_value_split_at_many_points, test_row13_pipelined_frames_split_anywhere,
    test_row13_prefixes_wait_and_every_split_parses_the_same, test_row14_set_bad_expire,
    test_row15_incr_non_integer_and_overflow, test_row16_huge_valid_command)


class SidecarAsServer:
    """The interface the bad-input tests and their fixtures use (raw, client, info, port, proc,
    close_connections), on a sidecar (Unix socket, and TCP for the tests that need it)."""

    def __init__(self, sidecar, port):
        self.sidecar = sidecar
        self.port = port
        self.proc = sidecar.proc
        self.target = "tiercache"
        self.password = None
        self._raws = []

    def raw(self, unix=False, auth=False, timeout=5.0):
        c = self.sidecar.raw(timeout=timeout)
        self._raws.append(c)
        return c

    def client(self, db=0, unix=False, **kw):
        return self.sidecar.client(db=db, **kw)

    def info(self, section=None):
        return self.sidecar.info(section or "clients")

    def close_connections(self, settle_to=None):
        for c in self._raws:
            try:
                c.close()
            except OSError:
                pass
        self._raws.clear()
        deadline = time.monotonic() + 5
        while settle_to is not None and time.monotonic() < deadline:
            if self.info("clients")["connected_clients"] <= settle_to:
                break
            time.sleep(0.01)


@pytest.fixture(scope="module", params=["tiercache", "redis"], ids=["l2=tiercache", "l2=redis"])
def server(request):
    with Cluster(request.param) as cl:
        port = free_port()
        # l2-timeout-ms 10 s, not the default 1 s: row 16's MSET of 10,001 keys took longer
        # than 1 s at an ASan L2 on a busy machine (r30), and these rows are about parsing.
        yield SidecarAsServer(cl.sidecar("a", port=port, l2_timeout_ms=10000), port)
