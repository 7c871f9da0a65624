from __future__ import annotations

from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "decisions"
    verbose_name = "Routing decisions"

    def ready(self) -> None:
        from decisions.publisher import install_shutdown_drain

        install_shutdown_drain()
