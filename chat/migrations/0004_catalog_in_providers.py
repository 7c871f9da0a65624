# Provider and CatalogModel moved to the providers app (same tables): repoint the foreign keys
# and drop the models from this app's state. Nothing in the database changes.

import chat.models
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0003_message_note_role"),
        ("providers", "0001_initial"),
        ("routers", "0004_catalog_in_providers"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="workspace",
                    name="model",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="providers.catalogmodel"),
                ),
                migrations.AlterField(
                    model_name="thread",
                    name="override_model",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="providers.catalogmodel"),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="model",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="providers.catalogmodel"),
                ),
                migrations.DeleteModel(name="CatalogModel"),
                migrations.DeleteModel(name="Provider"),
            ],
        ),
        # A workspace whose router is deleted goes on with the router's primary model (done by
        # Django's deletion collector, not the database: no schema change).
        migrations.AlterField(
            model_name="workspace",
            name="router",
            field=models.ForeignKey(blank=True, null=True, on_delete=chat.models._answer_with_primary_model, related_name="workspaces", to="routers.router"),
        ),
    ]
