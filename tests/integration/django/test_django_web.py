"""Django's own users of the cache against the server: cache-backed sessions (SessionStore and
the session middleware through django.test.Client), cache_page, and {% cache %} fragments;
over TCP (alias "default", db 0) and the unix socket (alias "unix", db 1)."""

from django.conf import settings
from django.contrib.sessions.backends.cache import KEY_PREFIX, SessionStore
from django.core.cache import caches
from django.template import Context, Template
from django.test import Client
from django.test.utils import override_settings

import tc_django_app


def session_key_in_db(session_key):
    return ":1:%s%s" % (KEY_PREFIX, session_key)


def test_session_store_create_save_load_delete(alias, raw_db):
    with override_settings(SESSION_CACHE_ALIAS=alias):
        s = SessionStore()
        s["user"] = "alice"
        s.create()  # EXISTS per candidate key, then SET ... PX 1209600000 NX
        key = s.session_key
        assert key and raw_db.exists(session_key_in_db(key)) == 1
        ttl_ms = raw_db.pttl(session_key_in_db(key))
        assert settings.SESSION_COOKIE_AGE * 1000 - 5000 <= ttl_ms <= \
            settings.SESSION_COOKIE_AGE * 1000
        loaded = SessionStore(session_key=key)
        assert loaded["user"] == "alice"
        loaded["cart"] = [1, 2]
        loaded.save()
        again = SessionStore(session_key=key)
        assert again.load() == {"user": "alice", "cart": [1, 2]}
        assert SessionStore().exists(key)
        again.delete()
        assert raw_db.exists(session_key_in_db(key)) == 0
        assert SessionStore(session_key=key).load() == {}
        assert not SessionStore().exists(key)


def test_session_store_unknown_key_gets_fresh_session(alias):
    with override_settings(SESSION_CACHE_ALIAS=alias):
        s = SessionStore(session_key="x" * 32)
        assert s.load() == {}
        s["a"] = 1
        s.save()
        assert s.session_key != "x" * 32  # never adopts a key the client made up


def test_session_middleware_through_test_client(alias, raw_db):
    with override_settings(SESSION_CACHE_ALIAS=alias):
        client = Client()
        assert client.get("/session/").content == b"1"
        sid = client.cookies[settings.SESSION_COOKIE_NAME].value
        assert raw_db.exists(session_key_in_db(sid)) == 1
        assert client.get("/session/").content == b"2"
        assert client.get("/session/").content == b"3"
        other = Client()  # another browser: its own session
        assert other.get("/session/").content == b"1"
        assert client.get("/session/flush/").content == b"flushed"
        assert raw_db.exists(session_key_in_db(sid)) == 0
        assert client.get("/session/").content == b"1"


def test_cache_page_serves_second_request_from_cache(alias, raw_db):
    client = Client()
    before = tc_django_app.CALLS["page"]
    first = client.get("/page/%s/?q=a" % alias)
    second = client.get("/page/%s/?q=a" % alias)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert tc_django_app.CALLS["page"] == before + 1
    # two keys per page (header list + page), stored with a TTL
    page_keys = raw_db.keys(":1:views.decorators.cache.*")
    assert len(page_keys) == 2, page_keys
    assert all(0 < raw_db.ttl(k) <= 60 for k in page_keys)
    third = client.get("/page/%s/?q=b" % alias)  # another URL: another entry
    assert third.content != first.content
    assert tc_django_app.CALLS["page"] == before + 2
    caches[alias].clear()
    client.get("/page/%s/?q=a" % alias)
    assert tc_django_app.CALLS["page"] == before + 3


def test_template_fragment_cache(alias, raw_db):
    calls = []

    def expensive():
        calls.append(1)
        return "computed %d" % len(calls)
    tpl = Template('{%% load cache %%}[{%% cache 60 sidebar user using="%s" %%}'
                   '{{ expensive }}{%% endcache %%}]' % alias)
    assert tpl.render(Context({"expensive": expensive, "user": "u1"})) == "[computed 1]"
    assert tpl.render(Context({"expensive": expensive, "user": "u1"})) == "[computed 1]"
    assert len(calls) == 1
    assert tpl.render(Context({"expensive": expensive, "user": "u2"})) == "[computed 2]"
    keys = raw_db.keys(":1:template.cache.sidebar.*")
    assert len(keys) == 2 and all(0 < raw_db.ttl(k) <= 60 for k in keys)
