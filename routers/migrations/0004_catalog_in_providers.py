# The catalog moved to the providers app (same table): repoint the foreign keys in the state only.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("routers", "0003_semantic_rules"),
        ("providers", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="router",
                    name="primary_model",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="providers.catalogmodel"),
                ),
                migrations.AlterField(
                    model_name="router",
                    name="classifier_model",
                    field=models.ForeignKey(blank=True, help_text="Judges LLM-classified rules. Defaults to the primary model.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="providers.catalogmodel"),
                ),
                migrations.AlterField(
                    model_name="rule",
                    name="target_model",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="providers.catalogmodel"),
                ),
            ],
        ),
    ]
