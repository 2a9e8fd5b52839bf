"""Signals of the site: what bulk writes send, since they send no model signals."""

from django.dispatch import Signal

# Sent by services that write many rows at once (bulk inserts, set-based updates):
# `event` is a kind of change of `pms_site.cache.CASCADE` ("book", "snapshots", …).
data_changed = Signal()
