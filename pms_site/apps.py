from django.apps import AppConfig


class PmsSiteConfig(AppConfig):
    name = "pms_site"
    verbose_name = "PMS site"

    def ready(self) -> None:
        """The site's wiring (`wiring.py`), imported here: its modules import models, which
        exist only once the app registry is ready."""
        from . import checks, datasets, token_admin, wiring  # noqa: F401 — checks, datasets register themselves

        token_admin.register()  # after the admin's autodiscovery (its app is the first)
        wiring.invalidate_on_writes()
        wiring.forget_tokens_on_changes()
        wiring.sync_group_permissions()
        wiring.keep_market_matrices_in_cache()
