from __future__ import annotations

from django.urls import path

from routers import profile_views, version_views, views

# Rules live under their router's URL only: a rule id from another router 404s.
urlpatterns = [
    path("<int:pk>/tiers/", views.router_tiers, name="router_tiers"),
    path("<int:pk>/categories/", views.router_categories, name="router_categories"),
    path("", views.router_list, name="router_list"),
    path("profiles/", profile_views.profile_list_view, name="profile_list"),
    path("profiles/new/", profile_views.profile_edit, name="profile_create"),
    path("profiles/<str:name>/", profile_views.profile_edit, name="profile_edit"),
    path("profiles/<str:name>/delete/", profile_views.profile_delete_view, name="profile_delete"),
    path("new/", views.router_create, name="router_create"),
    path("templates/<slug:name>/", views.router_template, name="router_template"),
    path("import/", views.router_import, name="router_import"),
    path("<int:pk>/", views.router_detail, name="router_detail"),
    path("<int:pk>/edit/", views.router_edit, name="router_edit"),
    path("<int:pk>/failover/", views.router_failover_policy, name="router_failover_policy"),
    path("<int:pk>/delete/", views.router_delete, name="router_delete"),
    path("<int:pk>/export/", views.router_export, name="router_export"),
    path("<int:pk>/publish/", version_views.router_publish_view, name="router_publish"),
    path("<int:pk>/versions/", version_views.router_versions, name="router_versions"),
    path(
        "<int:pk>/versions/<int:number>/rollback/",
        version_views.router_rollback_view,
        name="router_rollback",
    ),
    path(
        "<int:pk>/versions/<int:number>/export/",
        version_views.version_export,
        name="router_version_export",
    ),
    path("<int:pk>/compare/", version_views.router_compare, name="router_compare"),
    path(
        "<int:pk>/draft/import/",
        version_views.router_draft_import_view,
        name="router_draft_import",
    ),
    path("<int:pk>/reorder/", views.rule_reorder, name="rule_reorder"),
    path("<int:pk>/condition-row/", views.condition_row, name="condition_row"),
    path("<int:pk>/example-row/", views.example_row, name="example_row"),
    path("<int:pk>/rules/examples/paste/", views.rule_examples_paste, name="rule_examples_paste"),
    path("<int:pk>/rules/examples/check/", views.rule_examples_check, name="rule_examples_check"),
    path("<int:pk>/rules/new/", views.rule_create, name="rule_create"),
    path(
        "<int:pk>/rules/suggest-threshold/",
        views.rule_suggest_threshold,
        name="rule_suggest_threshold",
    ),
    path("<int:pk>/rules/<int:rule_pk>/", views.rule_detail, name="rule_detail"),
    path("<int:pk>/rules/<int:rule_pk>/edit/", views.rule_edit, name="rule_edit"),
    path("<int:pk>/rules/<int:rule_pk>/toggle/", views.rule_toggle, name="rule_toggle"),
    path("<int:pk>/rules/<int:rule_pk>/delete/", views.rule_delete, name="rule_delete"),
]
