"""Authorization by Django groups.

Every PMS group may read; a view names the groups that may write (`write_groups`).
Superusers may do everything. Anonymous requests never get here (401 from authentication).

The admin checks Django model permissions instead; `GROUP_PERMISSIONS` gives each group
the ones that mirror its API rights (a test holds the two together), and every group may
view every PMS model. `pms_site` sets the groups to exactly these after each migrate.
"""

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

VIEWER, PM, RISK, OPS = "viewer", "pm", "risk", "ops"
ALL_GROUPS = (VIEWER, PM, RISK, OPS)

# The apps whose models every group may view in the admin.
PMS_APPS = ("portfolio", "risk", "trading", "briefing", "pms_site")

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
        "portfolio.add_capitalflow",
        "portfolio.mark_position",
        "trading.add_signal",
        "trading.change_signal",
        "trading.add_tradeproposal",
        "pms_site.run_pipelinerun",
        "briefing.add_morningpack",
        "briefing.send_morningpack",
    ),
}


def user_groups(user: Any) -> set[str]:
    # Cached on the user object: one query per request, however many checks.
    if not hasattr(user, "_pms_groups"):
        user._pms_groups = set(user.groups.values_list("name", flat=True))
    return user._pms_groups  # type: ignore[no-any-return]


class GroupPermission(BasePermission):
    message = "Your groups do not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if user.is_superuser:
            return True
        groups = user_groups(user)
        if request.method in SAFE_METHODS:
            return bool(groups & set(ALL_GROUPS))
        return bool(groups & set(getattr(view, "write_groups", ())))
