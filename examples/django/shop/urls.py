from django.urls import path

from . import views

app_name = "shop"
urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("product/<int:pk>/", views.product_detail, name="product"),
    path("most-viewed/", views.most_viewed, name="most_viewed"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/<int:pk>/", views.cart_add, name="cart_add"),
    path("category/<slug:slug>/", views.category, name="category"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("hot/", views.hot, name="hot"),
    path("cache-stats/", views.cache_stats, name="cache_stats"),
]
