from __future__ import annotations

from django.urls import path

from planning import views

urlpatterns = [
    path("<int:pk>/test/", views.router_test, name="router_test"),
]
