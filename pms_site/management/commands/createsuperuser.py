"""`manage.py createsuperuser`: Django's, with its password validators on every path.

Django's runs them only at a terminal, and lets the person there bypass them; from a
script (`--noinput`, DJANGO_SUPERUSER_PASSWORD) it runs none. Here a password the
validators refuse is refused either way (pms_site comes before django.contrib.auth in
INSTALLED_APPS, so that this command is the one `manage.py` runs)."""

import builtins
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


@contextlib.contextmanager
def no_bypass() -> Iterator[None]:
    """Django asks "Bypass password validation and create user anyway?" with its module's
    `input`, as it asks every question: to that one the answer is no, and the password is
    asked for again; the others are asked as usual."""

    def refuse(question: str = "") -> str:
        if not question.startswith("Bypass password validation"):
            return builtins.input(question)  # the username, the email: asked as usual
        print("The password validators cannot be bypassed: choose another password.")
        return "n"

    createsuperuser.input = refuse  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del createsuperuser.input  # type: ignore[attr-defined]


class Command(createsuperuser.Command):
    def handle(self, *args: Any, **options: Any) -> Any:
        if not options["interactive"]:
            self.scripted_password_check(options)
        with no_bypass():
            return super().handle(*args, **options)

    def scripted_password_check(self, options: dict[str, Any]) -> None:
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if password is None:
            return  # no password: Django makes the user's unusable
        name = User.USERNAME_FIELD
        fields = {
            name: options.get(name) or os.environ.get(f"DJANGO_SUPERUSER_{name.upper()}"),
            "email": options.get("email") or os.environ.get("DJANGO_SUPERUSER_EMAIL", ""),
        }
        try:
            validate_password(password, User(**fields))
        except ValidationError as error:
            raise CommandError(
                "DJANGO_SUPERUSER_PASSWORD is refused: " + " ".join(error.messages)
            ) from None
