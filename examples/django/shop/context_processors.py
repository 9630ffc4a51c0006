"""Template context: which host rendered the page. Deliberately touches neither the session nor
the user, so pages cached with cache_page do not vary on the cookie."""
from django.conf import settings


def host(request):
    return {"host_name": settings.HOST_NAME, "host_port": settings.PORT}
