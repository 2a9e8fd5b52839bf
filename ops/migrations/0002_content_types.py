"""The two models' content types follow them to ops, with the permissions that point at
them (view_…, the custom run_pipelinerun): the groups and users that hold those keep them.
On a new database there is nothing to move yet (content types are created after migrate)."""

from django.db import migrations

MODELS = ("pipelinerun", "heartbeat")


def move(apps, source, target):
    content_types = apps.get_model("contenttypes", "ContentType").objects
    for model in MODELS:
        if not content_types.filter(app_label=target, model=model).exists():
            content_types.filter(app_label=source, model=model).update(app_label=target)


def to_ops(apps, schema_editor):
    move(apps, "pms_site", "ops")


def to_pms_site(apps, schema_editor):
    move(apps, "ops", "pms_site")


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(to_ops, to_pms_site)]
