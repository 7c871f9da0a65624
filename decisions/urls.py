"""Analytics URLs, relative to `routers/`: a router's analytics sit beside its page."""

from __future__ import annotations

from django.urls import path

from decisions import views as analytics_views

urlpatterns = [
    path("<int:pk>/analytics/", analytics_views.router_analytics_page, name="router_analytics"),
    path("<int:pk>/decisions/", analytics_views.router_decision_log_page, name="router_decisions"),
    path(
        "<int:pk>/analytics.csv", analytics_views.router_analytics_csv, name="router_analytics_csv"
    ),
]
