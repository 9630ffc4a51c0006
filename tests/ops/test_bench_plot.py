"""bench/plot.py turns each benchmark's JSON shape into PNGs. The inputs here are small
hand-made documents of the benchmarks' output format, written to a temporary directory only:
the PNGs in docs/img come from real runs (docs/benchmarks.md says how)."""

import json
import os
import subprocess

import pytest

from conftest import REPO

PLOT = os.path.join(REPO, "bench", "plot.py")


def test_plot_writes_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    row = dict(redis_rps=100.0, tiercache_rps=110.0, redis_p50=0.1, tiercache_p50=0.1,
               redis_p99=0.3, tiercache_p99=0.25)
    l2 = {"throughput": [dict(row, transport=t, pipeline=p, test=c)
                         for t in ("unix", "tcp") for p in (1, 16) for c in ("SET", "GET")],
          "memory": {"redis": {"used_per_key": 90.0, "rss_per_key": 100.0},
                     "tiercache": {"used_per_key": 70.0, "rss_per_key": 80.0}}}
    fig = {"rps": 1.0, "p50": 0.1, "p99": 0.2}
    sidecar = {"hits_P1": {"sidecar": fig, "redis": fig}, "hits_P16": {"sidecar": fig,
                                                                       "redis": fig},
               "remote": {"sidecar": fig, "l2_via_proxy": fig}}
    django = {"results": {n: {"rps": 10.0, "p50_ms": 5.0, "p99_ms": 9.0}
                          for n in ("sidecar", "remote-redis", "locmem")}}
    inputs = {}
    for name, doc in (("l2", l2), ("sidecar", sidecar), ("django", django)):
        inputs[name] = tmp_path / (name + ".json")
        inputs[name].write_text(json.dumps(doc))
    out = tmp_path / "img"
    r = subprocess.run(["/usr/bin/python3", PLOT, "--l2", str(inputs["l2"]), "--sidecar",
                        str(inputs["sidecar"]), "--django", str(inputs["django"]), "--out",
                        str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    names = sorted(os.listdir(out))
    assert names == sorted(["l2_vs_redis_rps.png", "l2_vs_redis_p99.png",
                            "l2_vs_redis_memory.png", "sidecar_hits.png", "sidecar_remote.png",
                            "django_rps.png"])
    for n in names:
        assert (out / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
