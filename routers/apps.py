from __future__ import annotations

from django.apps import AppConfig


class RoutersConfig(AppConfig):
    name = "routers"
    verbose_name = "Routers"

    def ready(self) -> None:
        # Imported here, not at the top: signals connect once the app registry is ready.
        from routers import config_version

        config_version.connect_signals()
