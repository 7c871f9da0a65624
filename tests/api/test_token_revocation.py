"""Revoking a token or deactivating its user stops it at once, in every process."""

from __future__ import annotations

from django.utils import timezone

from accounts import people, tokens
from accounts.models import ApiToken
from routerweb import shared_cache


def _another_process_revokes(token: ApiToken) -> None:
    """What a revoke in another web process leaves behind here: the row changed and the shared
    auth version replaced — this process's memory untouched."""
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    shared_cache.set_now(tokens.AUTH_VERSION_KEY, "changed-by-another-process")


def test_deactivating_a_user_stops_their_token_at_once(db, owner, admin_user):
    _, plaintext = tokens.api_token_create(user=owner, name="ci")
    assert tokens.api_token_authenticate(plaintext) == owner  # now remembered
    people.user_deactivate(actor=admin_user, user=owner)
    assert tokens.api_token_authenticate(plaintext) is None


def test_a_role_change_is_seen_by_a_remembered_token_at_once(db, owner, admin_user):
    _, plaintext = tokens.api_token_create(user=owner, name="ci")
    assert not tokens.api_token_authenticate(plaintext).is_admin_role
    people.user_set_role(actor=admin_user, user=owner, role="admin")
    assert tokens.api_token_authenticate(plaintext).is_admin_role


def test_a_revoke_in_another_process_stops_the_token_here(db, owner):
    token, plaintext = tokens.api_token_create(user=owner, name="ci")
    assert tokens.api_token_authenticate(plaintext) == owner
    _another_process_revokes(token)
    assert tokens.api_token_authenticate(plaintext) is None


async def test_the_gateway_lookup_sees_another_processes_revoke(transactional_db, owner):
    from asgiref.sync import sync_to_async

    token, plaintext = await sync_to_async(tokens.api_token_create)(user=owner, name="ci")
    assert (await tokens.aapi_token_identify(plaintext)).user == owner
    await sync_to_async(_another_process_revokes)(token)
    assert await tokens.aapi_token_identify(plaintext) is None


def test_a_login_does_not_drop_remembered_tokens(db, owner, client):
    _, plaintext = tokens.api_token_create(user=owner, name="ci")
    tokens.api_token_authenticate(plaintext)
    version = shared_cache.get_now(tokens.AUTH_VERSION_KEY)
    client.post("/login/", {"username": "olivia", "password": "pw-olivia"})
    assert shared_cache.get_now(tokens.AUTH_VERSION_KEY) == version
