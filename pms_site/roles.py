"""The groups' admin rights: after each migrate, every PMS group holds exactly the view
permission of every PMS model and the permissions `core.permissions.GROUP_PERMISSIONS`
gives it (the ones that mirror its API rights)."""

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from core.permissions import ALL_GROUPS, GROUP_PERMISSIONS, PMS_APPS


def group_permissions_sync(**kwargs: Any) -> None:
    views = Permission.objects.filter(
        content_type__app_label__in=PMS_APPS, codename__startswith="view_"
    )
    for name in ALL_GROUPS:
        wanted = Q(pk__in=[])
        for dotted in GROUP_PERMISSIONS[name]:
            app_label, codename = dotted.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(views | Permission.objects.filter(wanted))
