from typing import Any

from django.apps import AppConfig


class PmsSiteConfig(AppConfig):
    name = "pms_site"
    verbose_name = "PMS site"

    def ready(self) -> None:
        """Wire cache invalidation: model signals for rows saved one by one (API, admin),
        `data_changed` for the services' bulk writes; both act after commit."""
        from django.contrib.auth.models import User
        from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
        from rest_framework.authtoken.models import Token

        from briefing.models import MorningPack
        from core import memo
        from core.signals import data_changed
        from portfolio.models import (
            CapitalFlow,
            FxRate,
            Instrument,
            PortfolioSnapshot,
            Position,
            PositionSnapshot,
            Price,
            Strategy,
            Trade,
        )
        from risk.models import RiskLimit, RiskSnapshot

        from . import authentication, cache, checks, datasets  # noqa: F401 — they register themselves
        from .roles import group_permissions_sync

        # After every app's permissions exist (the last app's post_migrate sees them all).
        post_migrate.connect(group_permissions_sync, dispatch_uid="pms-group-permissions")

        events = {
            Instrument: "book",
            Strategy: "book",
            Price: "market",
            FxRate: "market",
            CapitalFlow: "book",
            Position: "book",
            Trade: "book",
            RiskLimit: "limits",
            RiskSnapshot: "snapshots",
            PortfolioSnapshot: "snapshots",
            PositionSnapshot: "snapshots",
            MorningPack: "morning_pack",
        }

        def on_model_change(sender: Any, **kwargs: Any) -> None:
            cache.changed(events[sender])

        def on_data_changed(sender: Any, event: str, **kwargs: Any) -> None:
            cache.changed(event)

        for model in events:
            post_save.connect(on_model_change, sender=model, weak=False)
            post_delete.connect(on_model_change, sender=model, weak=False)
        data_changed.connect(on_data_changed, weak=False)
        memo.store = cache.remember  # the market matrices kept in the cache

        # A token deleted, a user changed or regrouped: this process forgets the token.
        def forget_user(sender: Any, instance: Any, **kwargs: Any) -> None:
            if isinstance(instance, User):
                authentication.forget(instance.pk)
            elif isinstance(instance, Token):
                authentication.forget(instance.user_id)
            else:  # a group's members changed
                authentication.forget()

        post_delete.connect(forget_user, sender=Token, weak=False)
        post_save.connect(forget_user, sender=User, weak=False)
        m2m_changed.connect(forget_user, sender=User.groups.through, weak=False)
