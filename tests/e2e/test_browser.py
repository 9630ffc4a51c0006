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
