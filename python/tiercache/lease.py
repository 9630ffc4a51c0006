"""A lease (a lock with an expiry) held at the L2, shared by every process of every host.

    lease = Lease(conn, "report:daily", ttl=30)
    if lease.acquire(blocking=True, timeout=5):
        try:
            ...
        finally:
            lease.release()
    # or: with Lease(conn, "report:daily", ttl=30): ...

`conn` is a redis-py client to the host's sidecar (or to any Redis). Taking it is one
`SET <key> <token> NX PX <ttl>` at the L2; releasing it is a script that deletes the key only if it
still holds this holder's token, so a holder whose lease expired (it was paused or too slow) and
was taken by another never releases the other's. If the holder dies the key expires after `ttl`
and the next process takes it. This is the lock the guides hand-write (SET NX PX plus a Lua
release); it is what `TierCache.get_or_set` uses against stampedes.

Contract: `acquire` never raises for "held by another" (it answers False); connection errors
propagate. `release` answers whether this holder still held it. Not re-entrant.
"""

import os
import time

RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
           "else return 0 end")
EXTEND = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
          "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end")

PREFIX = "tiercache:lease:"


def new_token():
    return os.urandom(12).hex()


class Lease:
    """One holder's handle on the lease `name` (the key is PREFIX + name)."""

    def __init__(self, conn, name, ttl=30.0, poll=0.01):
        if ttl <= 0:
            raise ValueError("a lease needs a positive ttl (seconds), not %r" % (ttl,))
        self.conn = conn
        self.key = name if name.startswith(PREFIX) else PREFIX + name
        self.ttl_ms = max(1, int(ttl * 1000))
        self.poll = poll
        self.token = None

    def try_acquire(self):
        token = new_token()
        if self.conn.set(self.key, token, nx=True, px=self.ttl_ms):
            self.token = token
            return True
        return False

    def acquire(self, blocking=True, timeout=None):
        """Take the lease; with blocking, retry until `timeout` seconds (None: forever)."""
        if self.token is not None:
            raise RuntimeError("lease %r already held by this handle" % self.key)
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = self.poll
        while True:
            if self.try_acquire():
                return True
            if not blocking or (deadline is not None and time.monotonic() >= deadline):
                return False
            pause = delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)
            delay = min(delay * 1.5, 0.1)

    def held_by_anyone(self):
        return bool(self.conn.exists(self.key))

    def release(self):
        """Give the lease up if this handle still holds it; True if it did."""
        token, self.token = self.token, None
        if token is None:
            return False
        return bool(self.conn.eval(RELEASE, 1, self.key, token))

    def extend(self, ttl):
        """Reset the expiry to `ttl` seconds from now, if still held; True if it was."""
        if self.token is None:
            return False
        return bool(self.conn.eval(EXTEND, 1, self.key, self.token, max(1, int(ttl * 1000))))

    def __enter__(self):
        if not self.acquire():
            raise TimeoutError("lease %r not acquired" % self.key)
        return self

    def __exit__(self, *exc):
        self.release()
