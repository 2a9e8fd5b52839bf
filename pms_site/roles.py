"""The groups' admin rights: after each migrate, every PMS group holds exactly the view
permission of every PMS model and the permissions GROUP_PERMISSIONS gives it, those that
mirror its API rights (the views' `write_groups`; tests/test_admin_roles.py holds the two
together). A permission granted to a group by hand is taken away at the next migrate:
change this table instead."""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from core.permissions import ALL_GROUPS, OPS, PM, RISK, VIEWER

# The apps whose models every group may view in the admin.
PMS_APPS = ("portfolio", "risk", "trading", "briefing", "ops")

GROUP_PERMISSIONS: dict[str, tuple[str, ...]] = {
    VIEWER: (),
    PM: (
        "portfolio.add_trade",
        "portfolio.close_position",
        "trading.add_tradeproposal",  # generate proposals
        "trading.decide_tradeproposal",
        "risk.acknowledge_riskalert",
        "briefing.add_morningpack",  # generate a pack
        "briefing.send_morningpack",
    ),
    RISK: (
        "risk.add_risklimit",
        "risk.change_risklimit",
        "risk.delete_risklimit",
        "risk.add_stressscenario",
        "risk.change_stressscenario",
        "risk.delete_stressscenario",
        "risk.acknowledge_riskalert",
    ),
    OPS: (
        "portfolio.add_instrument",
        "portfolio.change_instrument",
        "portfolio.add_strategy",
        "portfolio.change_strategy",
        "portfolio.add_price",
        "portfolio.change_price",
        "portfolio.add_fxrate",
        "portfolio.change_fxrate",
        "portfolio.add_benchmarkrate",
        "portfolio.change_benchmarkrate",
        "portfolio.add_capitalflow",
        "portfolio.add_fundterms",  # a change of the terms from a date
        "portfolio.change_fundterms",  # a change stored for a date, changed again
        "portfolio.mark_position",
        "trading.add_signal",
        "trading.change_signal",
        "trading.add_tradeproposal",
        "ops.run_pipelinerun",
        "briefing.add_morningpack",
        "briefing.send_morningpack",
    ),
}


def group_permissions_sync(app_config: Any = None, **kwargs: Any) -> None:
    """post_migrate of every app: the sending app's permissions are made first (Django
    makes them in its own receiver, which may run after this one), then the groups'."""
    if app_config is not None:
        create_permissions(app_config, **{**kwargs, "verbosity": 0})
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
