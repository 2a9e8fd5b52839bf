"""The site's wiring, done once when Django is ready (`PmsSiteConfig.ready`): cache
invalidation on writes, tokens forgotten when their user changes, the groups' permissions
after migrations, the market matrices kept in the cache."""

from typing import Any

from django.contrib.auth.models import User
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save, pre_save
from knox.models import AuthToken

from core import memo

from . import authentication, cache
from .roles import group_permissions_sync


def invalidate_on_writes() -> None:
    """Cache invalidation after commit, for every write the cache's table names."""
    cache.connect()


def _forget_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, User):
        authentication.forget(instance.pk)
    elif isinstance(instance, AuthToken):
        authentication.forget(instance.user_id)
    else:  # a group's members changed
        authentication.forget()


def forget_tokens_on_changes() -> None:
    """A token deleted, a user changed or regrouped: this process forgets the token. A new
    password or a deactivation deletes the user's tokens."""
    pre_save.connect(authentication.validate_new_password, sender=User, weak=False)
    pre_save.connect(authentication.note_credentials, sender=User, weak=False)
    post_save.connect(authentication.revoke_tokens_on_credentials_change, sender=User, weak=False)
    post_delete.connect(_forget_user, sender=AuthToken, weak=False)
    post_save.connect(_forget_user, sender=User, weak=False)
    m2m_changed.connect(_forget_user, sender=User.groups.through, weak=False)


def sync_group_permissions() -> None:
    """After every app's permissions exist (the last app's post_migrate sees them all)."""
    post_migrate.connect(group_permissions_sync, dispatch_uid="pms-group-permissions")


def keep_market_matrices_in_cache() -> None:
    """`core.memo` keeps the market matrices in the cache, under the "market" generation."""
    memo.store = cache.remember
