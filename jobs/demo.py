"""The local demo account that `make run` (manage.py run_embedded) makes on a fresh database."""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

DEMO_USERNAME = "demo"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    token: str
    password: str | None  # only when just created: it is stored hashed and shown once


@transaction.atomic
def demo_account_ensure() -> DemoAccount | None:
    """Create `demo` (random password, API token) if the database has no user yet.

    Only on a fresh database: once any user exists, a deleted demo account stays deleted.
    Returns the demo account if it exists, None otherwise.
    """
    users = get_user_model().objects
    password = None
    if not users.exists():
        password = secrets.token_urlsafe(12)
        users.create_user(DEMO_USERNAME, password=password)
    user = users.filter(username=DEMO_USERNAME).first()
    if user is None:
        return None
    token, _ = Token.objects.get_or_create(user=user)
    return DemoAccount(username=user.username, token=token.key, password=password)
