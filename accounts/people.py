"""Managing the people of an instance: create, change role, deactivate, workspace membership.

Every change is written to the audit log. Deactivating keeps the user's history (threads,
decisions, audit entries) but ends their sessions and revokes their API tokens.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Role, User
from audit.services import audit_record


def set_password_path(user: User) -> str:
    """A one-time link: Django's token is bound to the password hash and last login, so it
    stops working once used (or once the password changes)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("password_set", kwargs={"uidb64": uid, "token": token})


@transaction.atomic
def user_create(
    *, actor: User, username: str, email: str = "", role: str = Role.MEMBER, base_url: str = ""
) -> tuple[User, str, bool]:
    """Create a user without a usable password; return (user, one-time link, e-mailed?)."""
    username = username.strip()
    if not username:
        raise ValidationError({"username": "Choose a username."})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"The username {username!r} is taken."})
    if role not in Role.values:
        raise ValidationError({"role": "Unknown role."})
    user = User(username=username, email=email.strip(), role=role, is_staff=(role == Role.ADMIN))
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    link = base_url.rstrip("/") + set_password_path(user)
    audit_record(
        actor=actor,
        action="user.create",
        obj=user,
        after={"username": username, "email": user.email, "role": role},
    )
    mailed = False
    if user.email and settings.ROUTERWEB_EMAIL_HOST:
        send_mail(
            "Your routerweb account",
            f"{actor.username} created a routerweb account for you ({username}).\n\nSet your password here (the link works once):\n{link}\n",
            settings.DEFAULT_FROM_EMAIL,
            [user.email],
        )
        mailed = True
    return user, link, mailed


def user_set_role(*, actor: User, user: User, role: str) -> User:
    if role not in Role.values:
        raise ValidationError({"role": "Unknown role."})
    if user.pk == actor.pk and role != Role.ADMIN:
        raise ValidationError(
            {"role": "You cannot take the admin role from yourself; ask another admin."}
        )
    before = {"role": user.role}
    user.role = role
    user.is_staff = role == Role.ADMIN or user.is_superuser
    user.save(update_fields=["role", "is_staff"])
    audit_record(actor=actor, action="user.role", obj=user, before=before, after={"role": role})
    return user


def _end_sessions(user: User) -> int:
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def _revoke_tokens(user: User) -> int:
    try:
        from accounts.models import ApiToken  # type: ignore[attr-defined]
    except ImportError:  # tokens not installed
        return 0
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@transaction.atomic
def user_deactivate(*, actor: User, user: User) -> dict[str, int]:
    if user.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself.")
    user.is_active = False
    user.save(update_fields=["is_active"])
    result = {"sessions": _end_sessions(user), "tokens": _revoke_tokens(user)}
    audit_record(
        actor=actor,
        action="user.deactivate",
        obj=user,
        before={"is_active": True},
        after={
            "is_active": False,
            "sessions_ended": result["sessions"],
            "tokens_revoked": result["tokens"],
        },
    )
    return result


def user_reactivate(*, actor: User, user: User) -> User:
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action="user.reactivate",
        obj=user,
        before={"is_active": False},
        after={"is_active": True},
    )
    return user


def workspace_member_add(*, actor: User, workspace, user: User) -> None:
    if not user.is_active:
        raise ValidationError("That user is deactivated.")
    workspace.members.add(user)
    audit_record(
        actor=actor, action="workspace.member_add", obj=workspace, after={"member": user.username}
    )


def workspace_member_remove(*, actor: User, workspace, user: User) -> None:
    if user.pk == workspace.owner_id:
        raise ValidationError("The workspace's owner stays a member.")
    workspace.members.remove(user)
    audit_record(
        actor=actor,
        action="workspace.member_remove",
        obj=workspace,
        before={"member": user.username},
    )
