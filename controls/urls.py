from __future__ import annotations

from django.urls import path

from controls import views

urlpatterns = [
    path("manage/budgets/", views.budget_list, name="budget_list"),
    path("manage/budgets/new/", views.budget_edit, name="budget_create"),
    path("manage/budgets/<int:pk>/", views.budget_edit, name="budget_edit"),
    path("manage/budgets/<int:pk>/delete/", views.budget_delete, name="budget_delete"),
    path("spend/", views.my_spend, name="my_spend"),
    path("policies/", views.policy_list, name="policy_list"),
    path("policies/new/", views.policy_edit, name="policy_create"),
    path("policies/<int:pk>/", views.policy_edit, name="policy_edit"),
    path("policies/<int:pk>/delete/", views.policy_delete, name="policy_delete"),
]
