from __future__ import annotations

from django.urls import path

from chat import attachment_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("workspaces/new/", views.workspace_create, name="workspace_create"),
    path("workspaces/<int:pk>/", views.workspace_detail, name="workspace"),
    path("workspaces/<int:pk>/edit/", views.workspace_edit, name="workspace_edit"),
    path("workspaces/<int:pk>/members/", views.workspace_members, name="workspace_members"),
    path("workspaces/<int:pk>/threads/", views.thread_start, name="thread_start"),
    path("threads/<int:pk>/", views.thread_detail, name="thread"),
    path("threads/<int:pk>/messages/", views.message_create, name="message_create"),
    path("threads/<int:pk>/model/", views.thread_model, name="thread_model"),
    path("threads/<int:pk>/rename/", views.thread_rename, name="thread_rename"),
    path("threads/<int:pk>/delete/", views.thread_delete, name="thread_delete"),
    path("workspaces/<int:pk>/search/", views.thread_search, name="thread_search"),
    path("messages/<int:pk>/stop/", views.message_stop, name="message_stop"),
    path("messages/<int:pk>/regenerate/", views.message_regenerate, name="message_regenerate"),
    path("messages/<int:pk>/continue/", views.message_continue, name="message_continue"),
    path("messages/<int:pk>/edit/", views.message_edit, name="message_edit"),
    path("messages/<int:pk>/feedback/", views.message_feedback, name="message_feedback"),
    path("workspaces/<int:pk>/preview/", views.route_preview, name="route_preview"),
    path("messages/<int:pk>/stream/", views.message_stream, name="message_stream"),
    path("attachments/<int:pk>/", attachment_views.attachment_file, name="attachment"),
    path("providers/", views.provider_list, name="provider_list"),
    path("providers/new/", views.provider_edit, name="provider_create"),
    path("providers/<int:pk>/", views.provider_edit, name="provider_edit"),
    path("providers/<int:pk>/discover/", views.provider_discover, name="provider_discover"),
    path("providers/<int:pk>/add-model/", views.provider_add_model, name="provider_add_model"),
    path(
        "providers/<int:provider_pk>/models/new/",
        views.catalog_model_edit,
        name="catalog_model_create",
    ),
    path(
        "providers/<int:provider_pk>/models/<int:pk>/",
        views.catalog_model_edit,
        name="catalog_model_edit",
    ),
]
