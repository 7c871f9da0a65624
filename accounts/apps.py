from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
    default = True

    def ready(self) -> None:
        from accounts import tokens

        tokens.connect_signals()


class RouterwebAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with a site whose access follows the routerweb role."""

    default = False
    default_site = "accounts.admin_site.RouterwebAdminSite"
