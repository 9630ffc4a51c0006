#!/usr/bin/python3
"""Coherence checker for tiercache-sidecar: writer and reader processes on two hosts (two
sidecars on one L2) hammer random keys for a bounded time; afterwards every read is checked
against the history of acknowledged writes.

Every key has exactly one writer, so its versions (1, 2, 3, ...) are committed in order; a
value is "<version>:<writer>". A writer records when it sent each write and when the ack came
back; a reader records when it sent each read and what version it got (0 = nil). Then:

- stale read (remote): a read on the other host that started more than --bound-ms after the
  ack of a newer version than it returned. Must be 0 (contract point 2).
- stale read (local): the same on the writer's own host with a bound of 0 (point 1,
  read-your-writes). Must be 0.
- impossible read: a version whose write had not even been sent when the read finished, or was
  never written. Must be 0.
Also reported: the staleness age of reads that returned an older version than one already
acknowledged (how long after the ack they still saw the old one: within the bound this is the
propagation delay at work), the propagation delay measured by probes (write on one host, spin
on the other until it sees the new version), the sidecars' own INFO invalidation_lag, the L1
hit ratio and the write and read rates.

Writers connected straight to the L2 (--l2-writers, default 2 when the sidecars' source is
CLIENT TRACKING) write their own keys without any sidecar; every host is "another host" for
them.

Beyond one L2 process (l2_kinds.py): a Redis Cluster, or a master and replica under Redis
Sentinel; --failover kills a master mid-run so its replica is promoted. A request may then fail
(it is counted, never taken as acknowledged) inside the failure window the failover declares
(from the crash until a grace period after both sidecars serve the promoted replica); the
report says when requests failed, on which keys, why, and what succeeded on the dead master's
keys after the last failure.

    /usr/bin/python3 tests/coherence/check.py --seconds 30 [--l2 tiercache|redis|redis+publish] [--json]
    /usr/bin/python3 tests/coherence/check.py --seconds 45 --l2 redis-sentinel --failover 1

Exit status 0 when the contract held, 1 when it did not, 2 on a setup error."""

import argparse
import json
import marshal
import multiprocessing
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "sidecar"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import redis  # noqa: E402

from l2_kinds import L2_ERRORS, failover, l2_client, l2_hosts, l2_target  # noqa: E402
from sidecars import python_package_dir  # noqa: E402

HOSTS = ("a", "b")


def _percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[i]


# ---- worker processes ---------------------------------------------------------------------

def _message(e):
    """An error's message without its numbers (slots, ports), to count alike ones together."""
    return re.sub(r"\d+", "#", "%s: %s" % (type(e).__name__, e))[:90]


def writer_proc(target, writer_id, keys, until, out_path, pause_ms, seed, cluster=False,
                progress=None, slot=0):
    """target: a sidecar's socket, or an l2_kinds.l2_client target (a writer that bypasses
    the sidecars: a cron job, a worker on a host without a sidecar). cluster: the L2 is a Redis
    Cluster (batches only of keys that share a slot, as Redis Cluster allows). until: a shared
    double, the end of the run (a controller may move it). A failed write is logged not ok:
    it may or may not have been applied, and was never acknowledged. progress[slot] counts
    the keys written (run() extends a run that is short of its floor)."""
    rng = random.Random(seed)
    if isinstance(target, tuple):
        c, errors = l2_client(target), L2_ERRORS
    else:
        c, errors = redis.Redis(unix_socket_path=target, socket_timeout=10), redis.RedisError
    version = {k: 0 for k in keys}
    log = []  # (key, version, t_sent, t_ack, None or why it failed)
    messages = {}
    while time.monotonic() < until.value:
        r = rng.random()
        ks = [rng.choice(keys)] if r < 0.8 or len(keys) < 2 or cluster else rng.sample(keys, 2)
        vs = {}
        for k in ks:
            version[k] += 1
            vs[k] = version[k]
        t0 = time.monotonic()
        try:
            if len(ks) == 1:
                ok = c.set(ks[0], "%d:%d" % (vs[ks[0]], writer_id)) is True
            elif r < 0.9:  # a batch: MSET or a MULTI/EXEC set_many (django-redis style)
                ok = c.mset({k: "%d:%d" % (vs[k], writer_id) for k in ks}) is True
            else:
                p = c.pipeline(transaction=True)
                for k in ks:
                    p.set(k, "%d:%d" % (vs[k], writer_id), px=600000)
                ok = p.execute() == [True, True]
            err = None if ok else "answered other than OK"
        except errors as e:
            err = _message(e)
            messages[err] = messages.get(err, 0) + 1
        t1 = time.monotonic()
        for k in ks:
            log.append((k, vs[k], t0, t1, err))
        if progress is not None:
            progress[slot] += len(ks)
        if pause_ms:
            time.sleep(rng.random() * pause_ms / 1000.0)
    with open(out_path, "wb") as f:
        marshal.dump((log, messages), f)


def _dump_reads(out_path, log, failed, messages):
    with open(out_path, "wb") as f:
        marshal.dump((log, failed, messages), f)


def reader_proc(sock, keys, until, out_path, seed, progress=None, slot=0):
    rng = random.Random(seed)
    c = redis.Redis(unix_socket_path=sock, socket_timeout=10)
    log = []  # (key, version, t_sent, t_done)
    failed = []  # (t_sent, t_failed, keys, message)
    messages = {}
    while time.monotonic() < until.value:
        ks = [rng.choice(keys)] if rng.random() < 0.8 else rng.sample(keys, 3)
        t0 = time.monotonic()
        try:
            vs = [c.get(ks[0])] if len(ks) == 1 else c.mget(ks)
        except redis.RedisError as e:
            failed.append((t0, time.monotonic(), ks, _message(e)))
            messages[_message(e)] = messages.get(_message(e), 0) + 1
            continue
        t1 = time.monotonic()
        for k, v in zip(ks, vs):
            log.append((k, int(v.split(b":")[0]) if v else 0, t0, t1))
        if progress is not None:
            progress[slot] += len(ks)
    _dump_reads(out_path, log, failed, messages)


def direct_reader_proc(sock, shm_name, staleness_ms, keys, until, out_path, seed,
                       progress=None, slot=0):
    """Reads as tiercache's Django backend does: the sidecar's L1 segment directly
    (tiercache._l1.Reader), the socket on a miss."""
    sys.path.insert(0, python_package_dir())
    from tiercache import _l1
    rng = random.Random(seed)
    r = _l1.Reader(shm_name, staleness_ms)
    c = redis.Redis(unix_socket_path=sock, socket_timeout=10)
    log = []  # (key, version, t_sent, t_done)
    failed = []
    messages = {}
    while time.monotonic() < until.value:
        k = rng.choice(keys)
        t0 = time.monotonic()
        try:
            v = r.get(0, k)
            if v is None:
                v = c.get(k)
        except redis.RedisError as e:
            failed.append((t0, time.monotonic(), [k], _message(e)))
            messages[_message(e)] = messages.get(_message(e), 0) + 1
            continue
        log.append((k, int(v.split(b":")[0]) if v else 0, t0, time.monotonic()))
        if progress is not None:
            progress[slot] += 1
    _dump_reads(out_path, log, failed, messages)


def probe_proc(sock_w, sock_r, until, out_path, seed):
    """Writes a probe key on one host, then spins on the other until it sees the new version:
    the time from the ack to the first read that sees it is the propagation delay."""
    rng = random.Random(seed)
    w = redis.Redis(unix_socket_path=sock_w, socket_timeout=10)
    r = redis.Redis(unix_socket_path=sock_r, socket_timeout=10)
    key = "probe:%d" % seed
    delays = []
    v = 0
    w.set(key, "0")
    while time.monotonic() < until.value:
        while r.get(key) != b"%d" % v:  # make sure the reader's host caches the old value
            if time.monotonic() > until.value:
                break
        r.get(key)
        v += 1
        w.set(key, "%d" % v)
        t_ack = time.monotonic()
        want = b"%d" % v
        while r.get(key) != want:
            if time.monotonic() - t_ack > 5:
                break
        delays.append(time.monotonic() - t_ack)
        time.sleep(0.005 + rng.random() * 0.01)
    with open(out_path, "wb") as f:
        marshal.dump(delays, f)


# ---- analysis ------------------------------------------------------------------------------

def analyse(writes, reads, bound_s):
    """writes: {key: (host, [(version, t_sent, t_ack, ok)] sorted by version)};
    reads: [(host, key, version, t_sent, t_done)]. Returns a dict of findings."""
    import bisect
    # Per key: acked versions in ack order and a running max, for "newest version acked by t".
    acked = {}
    sent = {}
    for k, (host, ws) in writes.items():
        pairs = sorted((t_ack, v) for v, _, t_ack, ok in ws if ok)
        times, maxv, m = [], [], 0
        for t, v in pairs:
            m = max(m, v)
            times.append(t)
            maxv.append(m)
        acked[k] = (host, times, maxv)
        sent[k] = {v: t_sent for v, t_sent, _, _ in ws}
    out = {"reads": len(reads), "stale_remote": 0, "stale_local": 0, "impossible": 0,
           "examples": [], "staleness_age_s": []}
    for host, k, v, t0, t1 in reads:
        if k not in acked:
            if v != 0:
                out["impossible"] += 1
            continue
        whost, times, maxv = acked[k]
        if v != 0:
            ts = sent[k].get(v)
            if ts is None or ts > t1:
                out["impossible"] += 1
                if len(out["examples"]) < 10:
                    out["examples"].append(("impossible", host, k, v, t0))
                continue
        local = host == whost
        # Newest version acknowledged before the read started.
        i = bisect.bisect_right(times, t0)
        if i == 0 or maxv[i - 1] <= v:
            continue
        # The read returned an older version than one acknowledged before it: how long after
        # the ack of the oldest version newer than v did it start?
        j = bisect.bisect_right(maxv, v, 0, i)  # first acked entry with max version > v
        age = t0 - times[j]
        out["staleness_age_s"].append(age)
        if local or age > bound_s:
            out["stale_local" if local else "stale_remote"] += 1
            if len(out["examples"]) < 10:
                out["examples"].append(("stale-local" if local else "stale-remote", host, k, v,
                                        "acked version %d %.3f ms before the read started"
                                        % (maxv[j], age * 1000)))
    return out


def failures(writes, failed_reads, failed_writes, reads, ctl):
    """What failed, when, and whether the run recovered. failed_reads, failed_writes: [(host,
    t_sent, t_failed, keys, message)]. A failure is inside the controller's failure window when the request
    overlapped it; "after": the watched keys' reads and writes that succeeded, by host,
    starting after the last failure ended."""
    fails = [(host, t0, t1, ks, "read", m) for host, t0, t1, ks, m in failed_reads]
    fails += [(host, t0, t1, ks, "write", m) for host, t0, t1, ks, m in failed_writes]
    lo, hi = ctl.failure_window or (float("inf"), float("-inf"))
    out = {"reads": 0, "writes": 0, "by_host": {}, "last_s_by_host": {}, "outside_window": 0,
           "other_keys": {},
           "first_s": None, "last_s": None, "examples": []}
    last = float("-inf")
    for host, t0, t1, ks, op, m in sorted(fails, key=lambda f: f[1]):
        out[op + "s"] += 1
        out["by_host"][host] = out["by_host"].get(host, 0) + 1
        out["outside_window"] += 0 if t1 >= lo and t0 <= hi else 1
        if not any(k in ctl.watched for k in ks):
            by_op = out["other_keys"].setdefault(host, {"reads": 0, "writes": 0})
            by_op[op + "s"] += 1
            if len(out["examples"]) < 10:
                out["examples"].append((op, host, ks, round(t0 - ctl.t_start, 3),
                                        round(t1 - t0, 3), m))
        last = max(last, t1)
        out["last_s_by_host"][host] = max(out["last_s_by_host"].get(host, 0),
                                          round(t1 - ctl.t_start, 3))
        out["first_s"] = min(out["first_s"] or t0, t0)
    if fails:
        out["first_s"] = round(out["first_s"] - ctl.t_start, 3)
        out["last_s"] = round(last - ctl.t_start, 3)
    after = {}
    for host, k, _, t0, _ in reads:
        if k in ctl.watched and t0 > last:
            after.setdefault(host, {"reads": 0, "writes": 0})["reads"] += 1
    for k in ctl.watched & set(writes):
        host, ws = writes[k]
        n = sum(1 for _, t0, _, ok in ws if ok and t0 > last)
        after.setdefault(host, {"reads": 0, "writes": 0})["writes"] += n
    out["watched_ok_after_last"] = after
    return out


class Control:
    """What a controller (run(controller=...), in a thread once the workers have started) sees
    of the run: its keys; t_start; mark(name) notes an event's time; watched, a set of keys
    the report follows (a failover's victim's); open_failure_window() and
    close_failure_window(t) bound when requests may fail; end_in(s) moves the end of the run."""

    def __init__(self, until, keys):
        self._until = until
        self.keys = keys
        self.t_start = None
        self.events = {}
        self.watched = set()
        self.failure_window = None  # [from, to] (monotonic)
        self.error = None

    def mark(self, name):
        self.events[name] = time.monotonic()

    def open_failure_window(self):
        self.failure_window = [time.monotonic(), float("inf")]

    def close_failure_window(self, t):
        self.failure_window[1] = t

    def end_in(self, seconds):
        self._until.value = time.monotonic() + seconds


# ---- the run -------------------------------------------------------------------------------

def run(seconds=10.0, l2="tiercache", writers_per_host=2, readers_per_host=3, keys=100,
        bound_ms=100.0, pause_ms=2.0, probes=True, sidecar_flags=None, host_flags=None,
        on_started=None, direct_readers_per_host=1, l2_writers=None, controller=None,
        min_writes=0, min_reads=0, min_direct_hits=0, max_seconds=None):
    """Runs the check; returns the result dict (see report()). host_flags: {host: {flag:
    value}} on top of sidecar_flags (the self-test breaks one host's bus with it).
    on_started(cluster, sidecars) is called once the hosts are up (the soak adds load).
    direct_readers_per_host: readers that read the host's L1 segment themselves, as
    tiercache's Django backend does (in addition to readers_per_host socket readers).
    l2_writers: writers connected straight to the L2 (None: 2 with the tracking source, 0 with
    the publish fallback, which cannot see them). controller(cluster, sidecars, Control): runs
    in a thread from the start of the run (a failover: l2_kinds.failover()); `seconds` is then
    the longest the run may last. min_writes, min_reads, min_direct_hits: without a controller,
    a run that has not made that many writes and reads (keys), or whose hosts have not each
    served that many direct reads from L1, by its end goes on, up to max_seconds: the same
    amount of checking on a slow, busy machine as on a quiet one."""
    flags = {"l1_max_ttl_ms": 60000}
    flags.update(sidecar_flags or {})
    work = tempfile.mkdtemp(prefix="tc-coh-")
    ctx = multiprocessing.get_context("fork")
    with l2_hosts(l2) as cluster:
        sc = {h: cluster.sidecar(h, **dict(flags, **(host_flags or {}).get(h, {})))
              for h in HOSTS}
        info0 = {h: sc[h].info() for h in HOSTS}
        if on_started is not None:
            on_started(cluster, sc)
        if l2_writers is None:
            l2_writers = 2 if cluster.source == "tracking" else 0
        all_keys = ["c:%d" % i for i in range(keys)]
        nhost_writers = writers_per_host * len(HOSTS)
        nwriters = nhost_writers + l2_writers
        owned = {w: all_keys[w::nwriters] for w in range(nwriters)}
        until = ctx.Value("d", time.monotonic() + 0.3 + seconds, lock=False)
        ctl = Control(until, all_keys)
        procs = []
        files = {"w": [], "r": [], "p": []}
        nreaders = (readers_per_host + direct_readers_per_host) * len(HOSTS)
        progress = ctx.Array("q", nwriters + nreaders, lock=False)  # keys done, by process
        for w in range(nwriters):
            host = HOSTS[w % len(HOSTS)] if w < nhost_writers else "l2"
            path = os.path.join(work, "w%d" % w)
            files["w"].append((host, w, path))
            target = sc[host].socket if host != "l2" else l2_target(cluster)
            procs.append(ctx.Process(target=writer_proc, args=(
                target, w, owned[w], until, path, pause_ms, 1000 + w,
                cluster.l2_kind == "redis-cluster", progress, w)))
        for i in range(readers_per_host * len(HOSTS)):
            host = HOSTS[i % len(HOSTS)]
            path = os.path.join(work, "r%d" % i)
            files["r"].append((host, path))
            procs.append(ctx.Process(target=reader_proc, args=(
                sc[host].socket, all_keys, until, path, 2000 + i, progress, nwriters + i)))
        for i in range(direct_readers_per_host * len(HOSTS)):
            host = HOSTS[i % len(HOSTS)]
            path = os.path.join(work, "d%d" % i)
            files["r"].append((host, path))
            procs.append(ctx.Process(target=direct_reader_proc, args=(
                sc[host].socket, sc[host].shm_name,
                sc[host].info()["l1_direct_max_staleness_ms"], all_keys, until, path,
                4000 + i, progress, nwriters + readers_per_host * len(HOSTS) + i)))
        if probes:
            for i, (hw, hr) in enumerate((("a", "b"), ("b", "a"))):
                path = os.path.join(work, "p%d" % i)
                files["p"].append(path)
                procs.append(ctx.Process(target=probe_proc, args=(
                    sc[hw].socket, sc[hr].socket, until, path, 3000 + i)))
        t_start = ctl.t_start = time.monotonic()
        for p in procs:
            p.start()
        if controller is not None:
            def control():
                try:
                    controller(cluster, sc, ctl)
                except Exception as e:  # noqa: BLE001  (reported, and the run ends)
                    ctl.error = "%s: %s" % (type(e).__name__, e)
                    ctl.end_in(0)
            thread = threading.Thread(target=control, daemon=True)
            thread.start()
        elif min_writes or min_reads or min_direct_hits:
            # Just before the end, short of the floor: half a second more, up to max_seconds.
            cap = t_start + 0.3 + max(seconds, max_seconds or seconds)
            while True:
                left = until.value - time.monotonic()
                if left > 0.25:
                    time.sleep(left - 0.25)
                    continue
                short = (sum(progress[:nwriters]) < min_writes
                         or sum(progress[nwriters:]) < min_reads
                         or any(sc[h].info()["l1_direct_hits"] - info0[h]["l1_direct_hits"]
                                < min_direct_hits for h in HOSTS))
                if not short or until.value >= cap:
                    break
                until.value = min(cap, until.value + 0.5)
        for p in procs:
            while p.is_alive() and time.monotonic() < until.value + 60:
                p.join(1.0)
            if p.exitcode != 0:
                raise RuntimeError("a checker process failed (exit %s)" % p.exitcode)
        elapsed = time.monotonic() - t_start
        if controller is not None:
            thread.join(10)
            if thread.is_alive():
                ctl.error = ctl.error or "the controller had not finished when the run ended"
        info1 = {h: sc[h].info() for h in HOSTS}
        logs = {h: sc[h].stderr()[-1500:] for h in HOSTS}
        source = info1["a"]["invalidation_source"]
    writes, nwrites, failed_writes, l2_direct_writes = {}, 0, 0, 0
    failed_by_host = {}  # host ("a", "b", or "l2": the writers straight to the L2) -> count
    messages = {}  # error message -> count, of every process
    failed_writes_log = []  # (host, t_sent, t_failed, [key], message)

    def load(path):
        with open(path, "rb") as f:
            *logs, msgs = marshal.load(f)
        for m, n in msgs.items():
            messages[m] = messages.get(m, 0) + n
        return logs
    for host, w, path in files["w"]:
        for k, v, t0, t1, err in load(path)[0]:
            ok = err is None
            writes.setdefault(k, (host, []))[1].append((v, t0, t1, ok))
            if not ok:
                failed_writes_log.append((host, t0, t1, [k], err))
            nwrites += 1
            failed_writes += 0 if ok else 1
            if not ok:
                failed_by_host[host] = failed_by_host.get(host, 0) + 1
            l2_direct_writes += 1 if host == "l2" else 0
    reads, failed_reads = [], []
    for host, path in files["r"]:
        log_, fails = load(path)
        failed_reads += [(host, t0, t1, ks, m) for t0, t1, ks, m in fails]
        reads += [(host, k, v, t0, t1) for k, v, t0, t1 in log_]
    read_errors = len(failed_reads)
    delays = []
    for path in files["p"]:
        with open(path, "rb") as f:
            delays += marshal.load(f)
    shutil.rmtree(work, ignore_errors=True)

    found = analyse(writes, reads, bound_ms / 1000.0)
    failed = failures(writes, failed_reads, failed_writes_log, reads, ctl)
    ages = sorted(found.pop("staleness_age_s"))
    delays.sort()
    d = {h: {k: info1[h][k] - info0[h][k] for k in
             ("l1_hits", "l1_direct_hits", "l1_misses", "l1_bypassed", "fills", "fills_discarded", "bus_resets",
              "bus_gaps", "write_batches", "writes", "invalidations_received")} for h in HOSTS}
    result = {
        "l2": l2, "seconds": round(elapsed, 2), "bound_ms": bound_ms,
        "source": source, "writes": nwrites, "l2_direct_writes": l2_direct_writes,
        "failed_writes": failed_writes, "failed_writes_by_host": failed_by_host,
        "reads": len(reads),
        "reads_by_host": {h: sum(1 for r in reads if r[0] == h) for h in HOSTS},
        "read_errors": read_errors,
        "writes_per_s": round(nwrites / elapsed), "reads_per_s": round(len(reads) / elapsed),
        "stale_remote": found["stale_remote"], "stale_local": found["stale_local"],
        "impossible": found["impossible"], "examples": found["examples"],
        "older_than_acked": len(ages),
        "older_than_acked_age_ms": {"p50": round(_percentile(ages, 0.5) * 1000, 3),
                                    "p99": round(_percentile(ages, 0.99) * 1000, 3),
                                    "max": round((ages[-1] if ages else 0) * 1000, 3)},
        "probe_delay_ms": {"n": len(delays),
                           "p50": round(_percentile(delays, 0.5) * 1000, 3),
                           "p99": round(_percentile(delays, 0.99) * 1000, 3),
                           "max": round((delays[-1] if delays else 0) * 1000, 3)},
        "info_invalidation_lag_us": {h: {q: info1[h]["invalidation_lag_%s_us" % q]
                                         for q in ("p50", "p99", "max")} for h in HOSTS},
        "hosts": d,
        "failures": failed,
        "error_messages": sorted(messages.items(), key=lambda mn: -mn[1])[:8],
        "events_s": {e: round(t - t_start, 3) for e, t in ctl.events.items()},
        "failure_window_s": [round(t - t_start, 3) for t in ctl.failure_window or []],
        "controller_error": ctl.error, "watched_keys": sorted(ctl.watched),
        "sidecar_exits": cluster.problems,
        "sidecar_logs": logs,
    }
    hits = sum(d[h]["l1_hits"] + d[h]["l1_direct_hits"] for h in HOSTS)
    lookups = hits + sum(d[h]["l1_misses"] + d[h]["l1_bypassed"] for h in HOSTS)
    result["l1_hit_ratio"] = round(hits / lookups, 3) if lookups else 0.0
    result["ok"] = (result["stale_remote"] == 0 and result["stale_local"] == 0
                    and result["impossible"] == 0 and failed["outside_window"] == 0
                    and not ctl.error and not cluster.problems and nwrites > 0 and len(reads) > 0)
    return result


def report(r):
    lines = [
        "tiercache coherence check: L2 %s, source %s, %.1f s, bound %.0f ms"
        % (r["l2"], r["source"], r["seconds"], r["bound_ms"]),
        "  writes %d (%d/s, %d failed; %d of them straight to the L2), reads %d (%d/s, %d "
        "errors), L1 hit ratio %.3f"
        % (r["writes"], r["writes_per_s"], r["failed_writes"], r["l2_direct_writes"], r["reads"],
           r["reads_per_s"], r["read_errors"], r["l1_hit_ratio"]),
        "  reads by host: %s" % ", ".join("%s %d" % hn for hn in r["reads_by_host"].items()),
        "  stale reads beyond the bound (other host): %d" % r["stale_remote"],
        "  stale reads on the writing host (read-your-writes): %d" % r["stale_local"],
        "  impossible reads (version not yet written): %d" % r["impossible"],
        "  reads older than an acknowledged write (within the bound): %d; age p50 %.3f ms, "
        "p99 %.3f ms, max %.3f ms" % (r["older_than_acked"], r["older_than_acked_age_ms"]["p50"],
                                      r["older_than_acked_age_ms"]["p99"],
                                      r["older_than_acked_age_ms"]["max"]),
        "  propagation by probes (ack on one host -> seen on the other), n=%d: p50 %.3f ms, "
        "p99 %.3f ms, max %.3f ms" % (r["probe_delay_ms"]["n"], r["probe_delay_ms"]["p50"],
                                      r["probe_delay_ms"]["p99"], r["probe_delay_ms"]["max"]),
    ]
    for h, lag in r["info_invalidation_lag_us"].items():
        lines.append("  INFO invalidation_lag on %s: p50 %d us, p99 %d us, max %d us"
                     % (h, lag["p50"], lag["p99"], lag["max"]))
    for h, d in r["hosts"].items():
        lines.append("  host %s: %s" % (h, ", ".join("%s %d" % kv for kv in d.items())))
    for e in r["examples"]:
        lines.append("  example: %r" % (e,))
    f = r["failures"]
    if r["events_s"]:
        lines.append("  events (s after the start): " + ", ".join(
            "%s %.2f" % et for et in sorted(r["events_s"].items(), key=lambda et: et[1])))
    if f["reads"] or f["writes"] or r["failure_window_s"]:
        lines.append("  failed requests: %d reads, %d writes (by host %s), from %s s to %s s (the "
                     "last by host %s); %d outside the failure window %s s, on keys not watched %s"
                     % (f["reads"], f["writes"], f["by_host"], f["first_s"], f["last_s"],
                        f["last_s_by_host"], f["outside_window"], r["failure_window_s"],
                        f["other_keys"]))
        lines.append("  watched keys (%d) after the last failure, succeeded: %s"
                     % (len(r["watched_keys"]), f["watched_ok_after_last"]))
    for e in f["examples"]:
        lines.append("  failed on keys not watched (op, host, keys, at s, took s, error): %r"
                     % (e,))
    for m, n in r["error_messages"]:
        lines.append("  error %dx: %s" % (n, m))
    if r["controller_error"]:
        lines.append("  controller: %s" % r["controller_error"])
    for problem in r["sidecar_exits"]:
        lines.append("  sidecar exit: %s" % problem)
    by_host = sorted(r["reads_by_host"].values())
    if not r["ok"] or by_host[0] * 10 < by_host[-1]:  # a failure, or one host hardly read
        for h, log in r["sidecar_logs"].items():
            lines.append("  sidecar %s's log (tail):\n    %s" % (h, "\n    ".join(
                log.splitlines()[-12:]) or "(empty)"))
    lines.append("  RESULT: %s" % ("OK" if r["ok"] else "FAILED"))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--l2", choices=("tiercache", "redis", "tiercache+publish", "redis+publish",
                                     "redis-cluster", "redis-cluster-partial", "redis-sentinel"),
                    default="tiercache", help="the L2, and +publish for the sidecars' fallback "
                    "source of invalidations (redis-cluster-partial: a cluster that serves on "
                    "while a master's slots are down)")
    ap.add_argument("--failover", type=float, default=None, metavar="SECONDS",
                    help="this far into the run, kill -9 a master so its replica is promoted "
                         "(redis-cluster-partial, redis-sentinel; no probes); the run ends a "
                         "few seconds after the sidecars follow, --seconds at the latest")
    ap.add_argument("--l2-writers", type=int, default=None,
                    help="writers connected straight to the L2 (default: 2 with the tracking "
                         "source, 0 with publish)")
    ap.add_argument("--writers", type=int, default=2, help="writer processes per host")
    ap.add_argument("--readers", type=int, default=3, help="reader processes per host")
    ap.add_argument("--direct-readers", type=int, default=1,
                    help="reader processes per host that read L1 directly (tiercache._l1)")
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--bound-ms", type=float, default=100.0,
                    help="propagation bound: a read starting later than this after an ack "
                         "must see it")
    ap.add_argument("--pause-ms", type=float, default=2.0,
                    help="writers pause up to this long between writes (0 = flat out)")
    ap.add_argument("--no-probes", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    try:
        r = run(args.seconds, args.l2, args.writers, args.readers, args.keys, args.bound_ms,
                args.pause_ms, not args.no_probes and args.failover is None,
                direct_readers_per_host=args.direct_readers, l2_writers=args.l2_writers,
                controller=None if args.failover is None else failover(args.failover))
    except Exception as e:  # setup problems: binaries missing, ports
        print("coherence check could not run: %s" % e, file=sys.stderr)
        return 2
    print(json.dumps(r, indent=2) if args.json else report(r))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
