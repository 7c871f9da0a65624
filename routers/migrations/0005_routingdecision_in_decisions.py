# RoutingDecision moved to the decisions app (same table): drop it from this app's state only.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("routers", "0004_catalog_in_providers"),
        ("decisions", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RoutingDecision")],
        ),
    ]
