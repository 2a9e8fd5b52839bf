"""Signals of the site: what bulk writes send, since they send no model signals."""

from django.dispatch import Signal

# Sent by services that write many rows at once (bulk inserts, set-based updates), with the
# model written as sender: `pms_site.cache.INVALIDATES` says what that write makes stale.
data_changed = Signal()
