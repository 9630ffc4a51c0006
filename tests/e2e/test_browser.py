"""A real browser: headless Chromium (Debian's package) takes screenshots of host B's product
page and stats page; the PNGs must have the window's size and real content (not a blank or
error page). The screenshots are kept in $TIERCACHE_E2E_SCREENSHOTS when set."""

import os
import shutil
import subprocess
import tempfile

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTH, HEIGHT = 1200, 900
pytestmark = pytest.mark.browser


def screenshot(url, path):
    assert os.access(CHROMIUM, os.X_OK), "chromium is not installed (scripts/deps.sh installs it)"
    profile = tempfile.mkdtemp(prefix="tiercache-chromium-")
    try:
        r = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--user-data-dir=" + profile, "--screenshot=" + path,
             "--window-size=%d,%d" % (WIDTH, HEIGHT), url],
            capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert os.path.exists(path), "chromium wrote no screenshot (rc %d):\n%s" % (
        r.returncode, r.stderr[-3000:])
    return path


def check_not_blank(path):
    img = Image.open(path).convert("RGB")
    assert img.size == (WIDTH, HEIGHT)
    assert os.path.getsize(path) > 15000, "suspiciously small PNG"
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "nearly uniform image"
    # the header bar (dark blue) and the page background (light grey) are both there
    header, body = img.getpixel((WIDTH // 2, 10)), img.getpixel((WIDTH - 20, HEIGHT - 40))
    assert sum(header) < 300 and sum(body) > 600, (header, body)
    return img


@pytest.fixture
def shots():
    keep = os.environ.get("TIERCACHE_E2E_SCREENSHOTS")
    d = keep or tempfile.mkdtemp(prefix="tiercache-shots-")
    os.makedirs(d, exist_ok=True)
    yield d
    if not keep:
        shutil.rmtree(d, ignore_errors=True)


def test_product_page_screenshot(topo, shots):
    check_not_blank(screenshot(topo.url("B", "/product/4/"), os.path.join(shots, "product.png")))


def test_stats_page_screenshot(topo, shots):
    check_not_blank(screenshot(topo.url("A", "/cache-stats/"), os.path.join(shots, "stats.png")))


def test_stats_page_charts_drawn_with_data(topo, shots):
    """Traffic on both hosts for a few seconds, then host A's /cache-stats/ draws, per host,
    reads per second by kind, the hit ratio and the invalidation lag as inline SVG, with data
    (polylines of several points), and Chromium renders them (the series' colours are on the
    screenshot)."""
    import re
    import time

    from web import Browser
    b = Browser()
    end = time.time() + 5.0
    n = 0
    while time.time() < end:  # hits (list, products) and misses (new pages) on both hosts
        for host in ("A", "B"):
            assert b.get(topo.url(host, "/product/%d/" % (1 + n % 20))).status == 200
            b.get(topo.url(host, "/?page=%d" % (1 + n % 3)))
        n += 1
        time.sleep(0.05)
    html = b.get(topo.url("A", "/cache-stats/")).text
    for host in ("A", "B"):
        part = html.split('id="charts-%s"' % host)
        assert len(part) == 2, "no charts for host %s" % host
        charts = part[1].split("</div>")[0]
        assert charts.count("<svg") == 3
        lines = re.findall(r'class="series series-(\w+)"[^>]*points="([^"]*)"', charts)
        drawn = {name: len(points.split()) for name, points in lines}
        for name in ("direct", "socket", "misses", "hit_ratio", "lag_p50", "lag_p99"):
            assert drawn.get(name, 0) >= 3, (host, drawn)
    img = Image.open(screenshot(topo.url("A", "/cache-stats/"),
                                os.path.join(shots, "stats-charts.png"))).convert("RGB")
    colours = dict((c, n) for n, c in img.getcolors(maxcolors=1 << 20))
    # the direct-hits / hit-ratio green and the misses / lag p99 red lines are drawn
    near = lambda rgb: sum(n for c, n in colours.items()  # noqa: E731
                           if all(abs(a - b) <= 30 for a, b in zip(c, rgb)))
    assert near((0x1b, 0x9e, 0x77)) > 800, "no green series drawn"
    assert near((0xe4, 0x1a, 0x1c)) > 300, "no red series drawn"
