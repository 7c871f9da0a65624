from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0004_tier_and_category"),
    ]

    operations = [
        migrations.AddField(
            model_name="routingdecision",
            name="profile",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
        migrations.AddField(
            model_name="routingdecision",
            name="policy",
            field=models.CharField(blank=True, default="", max_length=300),
        ),
        migrations.AddField(
            model_name="routingdecision",
            name="policy_action",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.AddField(
            model_name="routingdecision",
            name="budget",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.AddField(
            model_name="routingdecision",
            name="budget_step",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
    ]
