"""The "State office" group: its members see every consortium's rows in the admin."""

from django.db import migrations

from sers.admin_tools import STATE_OFFICE_GROUP


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=STATE_OFFICE_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("articulations", "0002_consortium_staff"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
