# Provider and CatalogModel moved here from the chat app. State only: the tables keep their
# names (chat_provider, chat_catalogmodel), so an existing database is not touched.

import django.db.models.deletion
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("chat", "0003_message_note_role"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Provider",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100)),
                        ("slug", models.SlugField(help_text="Used in model references: slug/model-id.", unique=True)),
                        ("kind", models.CharField(choices=[("openai", "OpenAI"), ("anthropic", "Anthropic"), ("gemini", "Google Gemini"), ("openai_compatible", "OpenAI-compatible (Ollama, vLLM, LM Studio, OpenRouter…)"), ("demo", "Demo (offline, simulated)")], max_length=32)),
                        ("base_url", models.URLField(blank=True, help_text="Leave empty for the provider's default endpoint.")),
                        ("api_key_encrypted", models.TextField(blank=True, editable=False)),
                        ("connect_timeout", models.FloatField(default=10.0, help_text="Seconds to establish a connection.")),
                        ("read_timeout", models.FloatField(default=120.0, help_text="Seconds to wait for data.")),
                        ("enabled", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "db_table": "chat_provider",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="CatalogModel",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("model_id", models.CharField(max_length=200)),
                        ("display_name", models.CharField(max_length=200)),
                        ("context_window", models.PositiveIntegerField(default=128000)),
                        ("input_price_per_m", models.DecimalField(decimal_places=4, default=Decimal("0"), help_text="USD per 1M input tokens.", max_digits=10)),
                        ("output_price_per_m", models.DecimalField(decimal_places=4, default=Decimal("0"), help_text="USD per 1M output tokens.", max_digits=10)),
                        ("supports_images", models.BooleanField(default=False)),
                        ("supports_tools", models.BooleanField(default=False)),
                        ("enabled", models.BooleanField(default=True)),
                        ("provider", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="models", to="providers.provider")),
                    ],
                    options={
                        "db_table": "chat_catalogmodel",
                        "ordering": ["provider__name", "display_name"],
                        "constraints": [models.UniqueConstraint(fields=("provider", "model_id"), name="unique_model_per_provider")],
                    },
                ),
            ],
        ),
    ]
