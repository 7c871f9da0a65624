# RoutingDecision moved here from the routers app. The table keeps its name
# (routers_routingdecision), so an existing database keeps every row. The chat rows it names
# become plain ids: the decisions app sits below the chat, and the log outlives those rows. In
# the database that only drops the two foreign-key constraints; the columns and values stay.

import django.db.models.deletion
import uuid
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("chat", "0003_message_note_role"),
        ("routers", "0004_catalog_in_providers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RoutingDecision",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("uid", models.UUIDField(default=uuid.uuid4, unique=True)),
                        ("router_version", models.PositiveIntegerField(default=0)),
                        ("rule_name", models.CharField(blank=True, max_length=100)),
                        ("source", models.CharField(blank=True, max_length=16)),
                        ("reason", models.TextField(blank=True)),
                        ("model_ref", models.CharField(blank=True, max_length=300)),
                        ("answered_by", models.CharField(blank=True, max_length=300)),
                        ("attempts", models.JSONField(blank=True, default=list)),
                        ("verdicts", models.JSONField(blank=True, default=list)),
                        ("classifier_called", models.BooleanField(default=False)),
                        ("classifier_latency_ms", models.FloatField(blank=True, null=True)),
                        ("classifier_input_tokens", models.PositiveIntegerField(default=0)),
                        ("classifier_output_tokens", models.PositiveIntegerField(default=0)),
                        ("decision_us", models.FloatField(default=0)),
                        ("input_tokens", models.PositiveIntegerField(default=0)),
                        ("output_tokens", models.PositiveIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=6, default=Decimal("0"), max_digits=12)),
                        ("primary_cost", models.DecimalField(decimal_places=6, default=Decimal("0"), max_digits=12)),
                        ("fallback_used", models.BooleanField(default=False)),
                        ("overridden", models.BooleanField(default=False)),
                        ("succeeded", models.BooleanField(default=True)),
                        ("channel", models.CharField(default="chat", max_length=16)),
                        ("created_at", models.DateTimeField(db_index=True)),
                        ("message", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="chat.message")),
                        ("router", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="decisions", to="routers.router")),
                        ("user", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("workspace", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="chat.workspace")),
                        ("rule", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="routers.rule")),
                    ],
                    options={
                        "db_table": "routers_routingdecision",
                        "ordering": ["-created_at"],
                        "indexes": [models.Index(fields=["router", "created_at"], name="routers_rou_router__aa8e5f_idx")],
                    },
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterField(
                    model_name="routingdecision",
                    name="workspace",
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="chat.workspace"),
                ),
                migrations.AlterField(
                    model_name="routingdecision",
                    name="message",
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="chat.message"),
                ),
            ],
            state_operations=[
                migrations.RemoveField(model_name="routingdecision", name="workspace"),
                migrations.RemoveField(model_name="routingdecision", name="message"),
                migrations.AddField(
                    model_name="routingdecision",
                    name="workspace_id",
                    field=models.BigIntegerField(blank=True, db_index=True, null=True),
                ),
                migrations.AddField(
                    model_name="routingdecision",
                    name="message_id",
                    field=models.BigIntegerField(blank=True, db_index=True, null=True),
                ),
            ],
        ),
    ]
