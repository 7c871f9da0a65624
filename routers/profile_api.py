"""JSON API for profiles (`/api/profiles`): everyone reads them, admins write them.

The same services as the Profiles page and Django admin (routers/profiles.py): the engine's
validation, each error located at its field, every write audited.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from routers.api import ERRORS, NOT_SENT, In, api_user
from routers.models import Profile
from routers.profiles import ProfileRow, profile_delete, profile_get, profile_list, profile_save

router = Router(tags=["profiles"])


class ProfileIn(In):
    # Types only: names, ranges and size classes are checked by the service (engine words).
    name: str = Field(max_length=100, description="lower-case letters, digits, '.', '-', '_'")
    description: str = Field("", max_length=1000, description="At most 300 characters")
    needs_images: bool = False
    needs_tools: bool = False
    min_context: int = Field(0, description="Minimum context window, 0 to 100,000,000 tokens")
    max_price: float | None = Field(
        None, description="USD per 1M input + 1M output tokens, 0 to 1,000,000; null: any"
    )
    size_classes: list[str] = Field(
        default_factory=list, max_length=10, description="small, medium, large; empty: any"
    )


class ProfilePatch(In):
    """Only the fields sent change; `max_price` may be null (any price)."""

    name: str = Field(NOT_SENT, max_length=100)
    description: str = Field(NOT_SENT, max_length=1000)
    needs_images: bool = Field(NOT_SENT)
    needs_tools: bool = Field(NOT_SENT)
    min_context: int = Field(NOT_SENT)
    max_price: float | None = Field(None)
    size_classes: list[str] = Field(NOT_SENT, max_length=10)


class ProfileOut(Schema):
    id: int | None = Field(description="The admin's definition; null for an untouched built-in")
    name: str
    description: str
    needs_images: bool
    needs_tools: bool
    min_context: int
    max_price: float | None
    size_classes: list[str]
    origin: str = Field(description="built-in, redefined (a built-in an admin changed) or admin")
    requirements: str
    routers: int = Field(description="Routers with a rule that targets this profile")


def _row(name: str) -> ProfileRow:
    row = profile_get(name)
    if row is None:
        raise Http404("No such profile.")
    return row


def _out(name: str) -> dict[str, Any]:
    return _row(name).to_dict()


@router.get("", response=list[ProfileOut], summary="Profiles rules may target")
def list_profiles(request: HttpRequest) -> list[dict[str, Any]]:
    api_user(request)
    return [row.to_dict() for row in profile_list()]


@router.get("/{name}", response={200: ProfileOut, **ERRORS}, summary="A profile")
def get_profile(request: HttpRequest, name: str) -> dict[str, Any]:
    api_user(request)
    return _out(name)


@router.post("", response={201: ProfileOut, **ERRORS}, summary="Define a profile (admins)")
def create_profile(request: HttpRequest, payload: ProfileIn) -> Status[dict[str, Any]]:
    saved = profile_save(actor=api_user(request), profile=Profile(**payload.dict()))
    return Status(201, _out(saved.name))


@router.patch("/{name}", response={200: ProfileOut, **ERRORS}, summary="Change a profile (admins)")
def update_profile(request: HttpRequest, name: str, payload: ProfilePatch) -> dict[str, Any]:
    user = api_user(request)
    current = _row(name)
    if current.row is not None:
        profile = current.row
    else:  # a built-in one: changing it saves the instance's redefinition
        spec = current.spec.to_dict()
        profile = Profile(**spec)
    for field, value in payload.dict(exclude_unset=True).items():
        setattr(profile, field, value)
    saved = profile_save(actor=user, profile=profile)
    return _out(saved.name)


@router.delete(
    "/{name}",
    response={204: None, **ERRORS},
    summary="Delete an admin's profile (a redefined built-in returns to its definition)",
)
def delete_profile(request: HttpRequest, name: str) -> Status[None]:
    user = api_user(request)
    current = _row(name)
    if current.row is None:
        raise Http404("No profile an admin defined has this name (built-in ones stay).")
    profile_delete(actor=user, profile=current.row)
    return Status(204, None)
