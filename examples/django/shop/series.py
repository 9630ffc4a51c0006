"""The last minutes of each host's cache figures, for the charts of /cache-stats/.

SampleMiddleware samples the local sidecar's `INFO tiercache` at most once a second per host: the
first process of the host to ask in a given second (SET NX) writes the sample to
`tiercache:series:<host>:<second>` (kept WINDOW seconds), so any host's page can draw every
host's series. `load()` reads them back (one MGET per host) and turns the cumulative counters
into rates; `svg_chart()` draws a small line chart as inline SVG (no script, no library).
"""
import json
import time

from django.conf import settings
from django.utils.html import escape

WINDOW = 300  # seconds kept and drawn
PREFIX = "tiercache:series:"
HOSTS = PREFIX + "hosts:"
FIELDS = ["l1_hits", "l1_direct_hits", "l1_negative_hits", "l1_misses",
          "invalidation_lag_p50_us", "invalidation_lag_p99_us"]

_next = [0.0]


def _conn():
    from django_redis import get_redis_connection
    return get_redis_connection("default")


def sample(now=None):
    """Write this host's sample for the current second unless a process of the host did."""
    now = time.time() if now is None else now
    sec = int(now)
    conn = _conn()
    key = "%s%s:%d" % (PREFIX, settings.HOST_NAME, sec)
    if conn.exists(key):
        return False
    info = conn.info("tiercache")
    if "l1_hits" not in info:
        return False
    figures = {f: info.get(f) for f in FIELDS}
    figures["t"] = now
    ok = conn.set(key, json.dumps(figures), nx=True, ex=WINDOW + 60)
    conn.set(HOSTS + settings.HOST_NAME, "1", ex=WINDOW + 60)
    return bool(ok)


class SampleMiddleware:
    """Samples at most once a second per process (and per host, through SET NX)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        now = time.time()
        if now >= _next[0]:
            _next[0] = int(now) + 1
            try:
                sample(now)
            except Exception:  # the charts must never break a page
                pass
        return self.get_response(request)


def hosts(conn=None):
    conn = conn or _conn()
    names = sorted(k.decode()[len(HOSTS):] for k in conn.scan_iter(HOSTS + "*"))
    return names


def load(host, now=None, conn=None):
    """[(t, reads per second by kind, hit ratio, lag p50 ms, lag p99 ms)] for the window."""
    conn = conn or _conn()
    now = int(time.time() if now is None else now)
    keys = ["%s%s:%d" % (PREFIX, host, s) for s in range(now - WINDOW, now + 1)]
    samples = [json.loads(v) for v in conn.mget(keys) if v is not None]
    points = []
    for prev, cur in zip(samples, samples[1:]):
        dt = cur["t"] - prev["t"]
        if dt <= 0:
            continue
        rate = {k: max(0, (cur.get(k) or 0) - (prev.get(k) or 0)) / dt
                for k in ("l1_direct_hits", "l1_hits", "l1_negative_hits", "l1_misses")}
        hits = rate["l1_direct_hits"] + rate["l1_hits"] + rate["l1_negative_hits"]
        total = hits + rate["l1_misses"]
        points.append({"t": cur["t"], "direct": rate["l1_direct_hits"], "socket": rate["l1_hits"],
                       "negative": rate["l1_negative_hits"], "misses": rate["l1_misses"],
                       "hit_ratio": (100.0 * hits / total) if total else None,
                       "lag_p50": (cur.get("invalidation_lag_p50_us") or 0) / 1000.0,
                       "lag_p99": (cur.get("invalidation_lag_p99_us") or 0) / 1000.0})
    return points


COLOURS = {"direct": "#1b9e77", "socket": "#377eb8", "negative": "#984ea3", "misses": "#e41a1c",
           "hit_ratio": "#1b9e77", "lag_p50": "#377eb8", "lag_p99": "#e41a1c"}


def svg_chart(points, fields, title, unit, now=None, ymax=None, width=520, height=160):
    """A line chart of points[*][field] over the last WINDOW seconds, as an SVG string."""
    now = time.time() if now is None else now
    left, right, top, bottom = 48, 10, 22, 22
    w, h = width - left - right, height - top - bottom
    values = [p[f] for p in points for f in fields if p[f] is not None]
    top_value = ymax if ymax is not None else max(values + [1e-9]) * 1.1
    # the last WINDOW seconds, or since the first sample (at least a minute) on a new site
    span = min(WINDOW, max(60, now - points[0]["t"])) if points else WINDOW
    x = lambda t: left + w * (1 - min(span, max(0, now - t)) / span)  # noqa: E731
    y = lambda v: top + h * (1 - min(v, top_value) / top_value)  # noqa: E731
    out = ['<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" role="img" aria-label="%s">' % (width, height, width, height,
                                                               escape(title)),
           '<rect x="0" y="0" width="%d" height="%d" fill="#fff" stroke="#ccd"/>' % (width,
                                                                                   height),
           '<text x="%d" y="15" font-size="12" font-family="sans-serif">%s</text>'
           % (left, escape(title))]
    for frac in (0, 0.5, 1):
        yy = top + h * (1 - frac)
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e4e6ee"/>'
                   % (left, left + w, yy, yy))
        out.append('<text x="%d" y="%.1f" font-size="10" text-anchor="end" '
                   'font-family="sans-serif">%s</text>'
                   % (left - 4, yy + 3, _fmt(top_value * frac, unit)))
    out.append('<text x="%d" y="%d" font-size="10" font-family="sans-serif">-%s</text>'
               % (left, height - 6, ("%d min" % (span // 60)) if span >= 120 else
                  ("%d s" % span)))
    out.append('<text x="%d" y="%d" font-size="10" text-anchor="end" '
               'font-family="sans-serif">now</text>' % (left + w, height - 6))
    lx = left + 60  # the legend, along the bottom
    for f in fields:
        pts = " ".join("%.1f,%.1f" % (x(p["t"]), y(p[f])) for p in points if p[f] is not None)
        if pts:
            out.append('<polyline class="series series-%s" fill="none" stroke="%s" '
                       'stroke-width="2.5" points="%s"/>' % (f, COLOURS[f], pts))
        out.append('<text x="%d" y="%d" font-size="11" fill="%s" font-family="sans-serif">'
                   '&#9644; %s</text>' % (lx, height - 6, COLOURS[f], f.replace("_", " ")))
        lx += 7 * len(f) + 30
    out.append("</svg>")
    return "".join(out)


def _fmt(v, unit):
    if unit == "%":
        return "%d%%" % v
    if v >= 1000:
        return "%.1fk%s" % (v / 1000, unit)
    return ("%.0f%s" if v >= 10 else "%.1f%s") % (v, unit)


def charts(now=None):
    """[(host, [svg, svg, svg])] for every host that sampled in the window."""
    conn = _conn()
    now = time.time() if now is None else now
    out = []
    for host in hosts(conn):
        pts = load(host, now, conn)
        out.append((host, len(pts), [
            svg_chart(pts, ["direct", "socket", "negative", "misses"], "reads per second: "
                      "direct L1 hits, socket hits, negative hits, misses", "/s", now),
            svg_chart(pts, ["hit_ratio"], "L1 hit ratio", "%", now, ymax=100),
            svg_chart(pts, ["lag_p50", "lag_p99"], "invalidation lag p50 / p99", "ms", now)]))
    return out
