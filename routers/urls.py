from __future__ import annotations

from django.urls import path

from routers import views

urlpatterns = [
    path("", views.router_list, name="router_list"),
    path("<int:pk>/", views.router_detail, name="router_detail"),
]
