# The role decides Django admin access: is_staff and is_superuser are made to follow it.

import accounts.models
from django.db import migrations


def flags_follow_role(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    if not User.objects.filter(role="admin", is_active=True).exists():
        # An instance whose only admins were made with `createsuperuser` (role left at member)
        # keeps them as admins rather than locking everyone out.
        User.objects.filter(is_superuser=True, is_active=True).update(role="admin")
    User.objects.filter(role="admin").update(is_staff=True, is_superuser=True)
    User.objects.exclude(role="admin").update(is_staff=False, is_superuser=False)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_apitoken"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.RouterwebUserManager()),
            ],
        ),
        migrations.RunPython(flags_follow_role, migrations.RunPython.noop),
    ]
