"""A minimal browser for the end-to-end tests: one cookie jar used against every host (as behind
a load balancer; both hosts are 127.0.0.1, so a real browser shares cookies between them too),
CSRF tokens picked from forms, the admin's login and change forms, and polling."""

import http.client
import re
import time
import urllib.parse

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.text = body.decode("utf-8", "replace")

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.text[:200])


class Browser:
    def __init__(self):
        self.cookies = {}

    def request(self, method, url, form=None, headers=None, timeout=10):
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        try:
            hdrs = {"Host": u.netloc, "Referer": "%s://%s/" % (u.scheme, u.netloc)}
            if self.cookies:
                hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
            body = None
            if form is not None:
                body = urllib.parse.urlencode(form)
                hdrs["Content-Type"] = "application/x-www-form-urlencoded"
            hdrs.update(headers or {})
            conn.request(method, u.path + ("?" + u.query if u.query else ""), body, hdrs)
            r = conn.getresponse()
            data = r.read()
            for name, value in r.getheaders():
                if name.lower() == "set-cookie":
                    self._set_cookie(value)
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def _set_cookie(self, value):
        first, _, attrs = value.partition(";")
        name, _, val = first.strip().partition("=")
        expired = "max-age=0" in attrs.lower().replace(" ", "") or val in ("", '""')
        if expired:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = val

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, form, **kw):
        return self.request("POST", url, form=form, **kw)

    def csrf_from(self, url):
        r = self.get(url)
        m = CSRF_RE.search(r.text)
        assert m, "no CSRF token in %s (%d): %s" % (url, r.status, r.text[:500])
        return m.group(1)

    def submit(self, page_url, action_url, form):
        """GET the page holding a form, POST the form (with its CSRF token) to action_url."""
        data = dict(form)
        data["csrfmiddlewaretoken"] = self.csrf_from(page_url)
        return self.post(action_url, data)

    def admin_login(self, base, user="admin", password="admin"):
        r = self.submit(base + "/admin/login/", base + "/admin/login/?next=/admin/",
                        {"username": user, "password": password, "next": "/admin/"})
        assert r.status == 302, "admin login failed: %r" % r
        return r


def eventually(check, timeout=5.0, interval=0.02, what="condition"):
    """Polls check() until it returns a truthy value (returned) or raises AssertionError with
    the last value. Cross-host invalidation is asynchronous: tests wait for it, never assume."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %.1fs (last: %r)" % (what, timeout, last))
        time.sleep(interval)
