from __future__ import annotations

from django.urls import path

from preferences import views

urlpatterns = [
    path("preferences/", views.preferences_page, name="preferences"),
    path("preferences/add/", views.preference_add, name="preference_add"),
    path("preferences/<int:pk>/remove/", views.preference_remove, name="preference_remove"),
    path("preferences/import/", views.preferences_import_view, name="preferences_import"),
    path("preferences/export.txt", views.preferences_export_view, name="preferences_export"),
    path(
        "preferences/suggestions/<int:pk>/accept/",
        views.suggestion_accept_view,
        name="suggestion_accept",
    ),
    path(
        "preferences/suggestions/<int:pk>/dismiss/",
        views.suggestion_dismiss_view,
        name="suggestion_dismiss",
    ),
    path("routers/<int:pk>/preferences/", views.router_preferences, name="router_preferences"),
]
