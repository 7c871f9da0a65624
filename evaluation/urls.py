"""Golden sets and replays, relative to `routers/` (beside the router's page)."""

from __future__ import annotations

from django.urls import path

from evaluation import views

urlpatterns = [
    path("<int:pk>/golden/", views.golden_page, name="golden_page"),
    path("<int:pk>/golden/add/", views.golden_add, name="golden_add"),
    path("<int:pk>/golden/run/", views.golden_run_view, name="golden_run"),
    path("<int:pk>/golden/<int:case_pk>/delete/", views.golden_delete, name="golden_delete"),
    path(
        "<int:pk>/golden/from-decision/<int:decision_pk>/",
        views.golden_from_decision,
        name="golden_from_decision",
    ),
    path(
        "golden/from-message/<int:message_pk>/",
        views.golden_from_message,
        name="golden_from_message",
    ),
    path("<int:pk>/replays/", views.replay_page, name="replay_page"),
    path("<int:pk>/replays/estimate/", views.replay_estimate_view, name="replay_estimate"),
    path("<int:pk>/replays/start/", views.replay_start_view, name="replay_start"),
    path("<int:pk>/replays/<int:run_pk>/", views.replay_detail, name="replay_detail"),
]
