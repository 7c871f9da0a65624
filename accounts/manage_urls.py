from __future__ import annotations

from django.urls import path

from accounts import manage_views as views

urlpatterns = [
    path("people/", views.user_list, name="manage_users"),
    path("people/new/", views.user_create, name="manage_user_create"),
    path("people/<int:pk>/", views.user_detail, name="manage_user"),
    path("people/<int:pk>/role/", views.user_role, name="manage_user_role"),
    path("people/<int:pk>/deactivate/", views.user_deactivate, name="manage_user_deactivate"),
    path("people/<int:pk>/reactivate/", views.user_reactivate, name="manage_user_reactivate"),
    path("people/<int:pk>/link/", views.user_new_link, name="manage_user_link"),
]
