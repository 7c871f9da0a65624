"""Managing the people of an instance: create, change role, deactivate, workspace membership.

Every change is written to the audit log. Deactivating keeps the user's history (threads,
decisions, audit entries) but ends their sessions and revokes their API tokens.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import ApiToken, Role, User, role_flags
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
    _require_admin_actor(actor)
    username = username.strip()
    if not username:
        raise ValidationError({"username": "Choose a username."})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"The username {username!r} is taken."})
    if role not in Role.values:
        raise ValidationError({"role": "Unknown role."})
    user = User(username=username, email=email.strip(), role=role, **role_flags(role))
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    link = base_url.rstrip("/") + set_password_path(user)
    audit_user_created(actor=actor, user=user)
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


def _require_admin_actor(actor: User) -> None:
    if not (actor.is_active and actor.is_admin_role):
        raise PermissionDenied("Only admins manage people.")


def _lock_admins() -> None:
    # Two concurrent demotions must not both see "another admin remains".
    list(User.objects.select_for_update().filter(role=Role.ADMIN).values_list("pk", flat=True))


def user_change_check(*, actor: User, user: User, role: str, is_active: bool) -> None:
    """Refuse a role or active-state change that would lock admins out: nobody takes the
    admin role from themselves or deactivates themselves, and the last active admin stays."""
    if role not in Role.values:
        raise ValidationError({"role": "Unknown role."})
    loses_admin = (
        user.role == Role.ADMIN and user.is_active and (role != Role.ADMIN or not is_active)
    )
    if user.pk == actor.pk and not is_active:
        raise ValidationError("You cannot deactivate yourself.")
    if user.pk == actor.pk and loses_admin:
        raise ValidationError(
            {"role": "You cannot take the admin role from yourself; ask another admin."}
        )
    if (
        loses_admin
        and not User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk).exists()
    ):
        raise ValidationError(
            f"{user.username} is the last active admin: make someone else an admin first."
        )


def audit_user_created(*, actor: User, user: User) -> None:
    audit_record(
        actor=actor,
        action="user.create",
        obj=user,
        after={"username": user.username, "email": user.email, "role": user.role},
    )


@transaction.atomic
def user_set_role(*, actor: User, user: User, role: str) -> User:
    """Change a person's role; Django admin access (is_staff, is_superuser) follows it."""
    _require_admin_actor(actor)
    _lock_admins()
    user.refresh_from_db(fields=["role", "is_active"])
    user_change_check(actor=actor, user=user, role=role, is_active=user.is_active)
    before = {"role": user.role}
    user.role = role
    for flag, value in role_flags(role).items():
        setattr(user, flag, value)
    user.save(update_fields=["role", "is_staff", "is_superuser"])
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
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@transaction.atomic
def user_deactivate(*, actor: User, user: User) -> dict[str, int]:
    _require_admin_actor(actor)
    _lock_admins()
    user.refresh_from_db(fields=["role", "is_active"])
    user_change_check(actor=actor, user=user, role=user.role, is_active=False)
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
    _require_admin_actor(actor)
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
