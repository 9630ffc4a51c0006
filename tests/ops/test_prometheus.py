"""The real Prometheus (Debian's package) scrapes a sidecar and an L2 every second: both targets
are up and tiercache's figures are queryable. Also lints the exposition with promtool and checks
the example alert rules and Prometheus configuration in docker/prometheus/."""

import json
import os
import shutil
import subprocess
import urllib.parse

import pytest
import redis

from conftest import DOCKER, free_port, http_get, wait_for

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

pytestmark = pytest.mark.skipif(not os.path.exists(PROMETHEUS),
                                reason="Debian's prometheus package is not installed "
                                       "(scripts/deps.sh installs it)")


def query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, urllib.parse.quote(q))
    status, _, body = http_get(url)
    data = json.loads(body)
    assert status == 200 and data["status"] == "success", body
    return data["data"]["result"]


def test_prometheus_scrapes_sidecar_and_l2(procs, tmp_path):
    l2_metrics, sc_metrics, prom_port = free_port(), free_port(), free_port()
    l2 = procs.l2("--metrics-port", str(l2_metrics))
    sc = procs.sidecar(l2.port, "--metrics-port", str(sc_metrics))
    c = redis.Redis(unix_socket_path=sc.socket)
    wait_for(lambda: c.info("tiercache")["bus_healthy"] == 1, what="bus healthy")
    c.set("greeting", "hello")
    for _ in range(3):
        assert c.get("greeting") == b"hello"

    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: tiercache-l2\n"
        "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
        "  - job_name: tiercache-sidecar\n"
        "    static_configs: [{targets: ['127.0.0.1:%d']}]\n" % (l2_metrics, sc_metrics))
    prom = procs.start([PROMETHEUS, "--config.file=%s" % config,
                        "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                        "--web.listen-address=127.0.0.1:%d" % prom_port,
                        "--log.level=warn"], name="prometheus")

    def both_up():
        if not prom.alive():
            raise AssertionError("prometheus exited:\n" + prom.output())
        try:
            result = query(prom_port, "up")
        except OSError:
            return False
        ups = {r["metric"]["job"]: r["value"][1] for r in result}
        return ups if ups == {"tiercache-l2": "1", "tiercache-sidecar": "1"} else False

    wait_for(both_up, timeout=20, interval=0.25, what="both targets up in Prometheus")

    def sample(q):
        def get():
            r = query(prom_port, q)
            return r if r else False
        return wait_for(get, timeout=10, interval=0.25, what=q)

    assert sample("tiercache_sidecar_bus_healthy")[0]["value"][1] == "1"
    assert float(sample("tiercache_sidecar_l1_hits_total")[0]["value"][1]) >= 2
    assert float(sample("tiercache_sidecar_writes_total")[0]["value"][1]) >= 1
    assert sample('tiercache_sidecar_invalidation_lag_seconds{quantile="0.99"}')
    assert float(sample('tiercache_l2_db_keys{db="0"}')[0]["value"][1]) >= 1
    assert float(sample("tiercache_l2_used_memory")[0]["value"][1]) > 0
    # The example alert expressions evaluate against real series (no alert is firing).
    assert query(prom_port, "tiercache_sidecar_bus_healthy == 0") == []
    assert sample("tiercache_sidecar_bus_slots_unhealthy")[0]["value"][1] == "0"
    assert query(prom_port, "tiercache_sidecar_bus_slots_unhealthy > 0") == []
    assert query(prom_port, "tiercache_sidecar_l2_connected == 0") == []
    assert prom.stop() == 0


def test_exposition_passes_promtool_lint(procs):
    mport, sport = free_port(), free_port()
    l2 = procs.l2("--metrics-port", str(mport))
    procs.sidecar(l2.port, "--metrics-port", str(sport))
    for port in (mport, sport):
        body = wait_for(lambda: http_get("http://127.0.0.1:%d/metrics" % port)[2],
                        what="metrics page")
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=body.encode(),
                           capture_output=True, timeout=30)
        assert r.returncode == 0, (r.stdout + r.stderr).decode()


def test_example_rules_and_config_are_valid():
    r = subprocess.run([PROMTOOL, "check", "rules", os.path.join(DOCKER, "prometheus",
                                                                 "alerts.yml")],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()
    r = subprocess.run([PROMTOOL, "check", "config", os.path.join(DOCKER, "prometheus",
                                                                  "prometheus.yml")],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()
