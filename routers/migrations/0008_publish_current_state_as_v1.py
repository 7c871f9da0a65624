"""Every router that exists when versions arrive gets its current state as published v1.

The snapshot is written here, not by `routers.versions`, so this migration keeps producing
the format of its day whatever that module becomes: the export format (version 1) with each
rule's id, every optional key written out.
"""

from django.db import migrations
from django.utils import timezone


def _ref(model):
    return f"{model.provider.slug}/{model.model_id}" if model is not None else None


def publish_v1(apps, schema_editor):
    Router = apps.get_model("routers", "Router")
    RouterVersion = apps.get_model("routers", "RouterVersion")
    now = timezone.now()
    routers = Router.objects.filter(published_version__isnull=True).select_related(
        "primary_model__provider", "classifier_model__provider"
    )
    for router in routers.iterator():
        rules = router.rules.select_related("target_model__provider").order_by("position", "id")
        snapshot = {
            "format": "routerweb.router",
            "version": 1,
            "router": {
                "name": router.name,
                "slug": router.slug,
                "description": router.description,
                "visibility": router.visibility,
                "primary_model": _ref(router.primary_model),
                "classifier_model": _ref(router.classifier_model),
                "fallbacks": list(router.fallbacks or []),
                "sticky": router.sticky,
                "cooldown_minutes": router.cooldown_minutes,
                "time_zone": router.time_zone,
                "embedding_model": router.embedding_model,
                "failover_policy": dict(router.failover_policy or {}),
                "rules": [
                    {
                        "id": rule.pk,
                        "name": rule.name,
                        "enabled": rule.enabled,
                        "kind": rule.kind,
                        "match": rule.match,
                        "conditions": list(rule.conditions or []),
                        "description": rule.description,
                        "target_model": _ref(rule.target_model),
                        "fallbacks": list(rule.fallbacks or []),
                        "examples": list(rule.examples or []),
                        "threshold": rule.threshold,
                        "margin": rule.margin,
                    }
                    for rule in rules
                ],
            },
        }
        version = RouterVersion.objects.create(
            router=router,
            number=1,
            snapshot=snapshot,
            published_at=now,
            published_by=None,
            note="The router as it stood when versions were introduced.",
        )
        Router.objects.filter(pk=router.pk).update(published_version=version)


def unpublish(apps, schema_editor):
    Router = apps.get_model("routers", "Router")
    Router.objects.update(published_version=None)
    apps.get_model("routers", "RouterVersion").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("routers", "0007_router_versions")]

    operations = [migrations.RunPython(publish_v1, unpublish)]
