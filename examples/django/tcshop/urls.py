"""URLs: the shop, the admin, and the admin's static files (served by Django in the demo)."""
from django.contrib import admin
from django.contrib.staticfiles.views import serve
from django.urls import include, path, re_path

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
    path("", include("shop.urls")),
]
