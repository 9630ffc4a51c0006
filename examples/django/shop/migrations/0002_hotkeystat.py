"""The per-mode counters of the /hot/ page (shop/hotkey.py), one row per mode created here so
the page only ever UPDATEs them."""
from django.db import migrations, models

MODES = ("plain", "protected", "refresh")


def create_rows(apps, schema_editor):
    HotKeyStat = apps.get_model("shop", "HotKeyStat")
    for mode in MODES:
        HotKeyStat.objects.get_or_create(mode=mode)


class Migration(migrations.Migration):

    dependencies = [
        ("shop", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="HotKeyStat",
            fields=[
                ("mode", models.CharField(max_length=16, primary_key=True, serialize=False)),
                ("queries", models.BigIntegerField(default=0)),
                ("runs", models.BigIntegerField(default=0)),
                ("misses", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_rows, migrations.RunPython.noop),
    ]
