from typing import Any

from django.apps import AppConfig


class PmsSiteConfig(AppConfig):
    name = "pms_site"
    verbose_name = "PMS site"

    def ready(self) -> None:
        """The site's wiring. Each part imports what it wires inside it: models can be
        imported only once the app registry is ready, which it is here."""
        from . import checks, datasets  # noqa: F401 — they register themselves

        _invalidate_on_writes()
        _forget_tokens_on_changes()
        _sync_group_permissions()
        _keep_market_matrices_in_cache()


def _invalidate_on_writes() -> None:
    """Cache invalidation after commit, for every write the cache's table names."""
    from . import cache

    cache.connect()


def _forget_tokens_on_changes() -> None:
    """A token deleted, a user changed or regrouped: this process forgets the token."""
    from django.contrib.auth.models import User
    from django.db.models.signals import m2m_changed, post_delete, post_save
    from rest_framework.authtoken.models import Token

    from . import authentication

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


def _sync_group_permissions() -> None:
    """After every app's permissions exist (the last app's post_migrate sees them all)."""
    from django.db.models.signals import post_migrate

    from .roles import group_permissions_sync

    post_migrate.connect(group_permissions_sync, dispatch_uid="pms-group-permissions")


def _keep_market_matrices_in_cache() -> None:
    """`core.memo` keeps the market matrices in the cache, under the "market" generation."""
    from core import memo

    from . import cache

    memo.store = cache.remember
