from __future__ import annotations

from django.urls import path

from experiments import views

urlpatterns = [
    path("routers/<int:pk>/experiments/", views.experiments_page, name="router_experiments"),
    path(
        "routers/<int:pk>/experiments/start/",
        views.experiment_start_view,
        name="experiment_start",
    ),
    path(
        "routers/<int:pk>/experiments/<int:experiment_pk>/",
        views.experiment_detail,
        name="experiment_detail",
    ),
    path(
        "routers/<int:pk>/experiments/<int:experiment_pk>/end/",
        views.experiment_end_view,
        name="experiment_end",
    ),
]
