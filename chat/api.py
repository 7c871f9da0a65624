"""JSON API for workspaces: the ones you belong to, one of them, and creating one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import model_validator

from accounts.models import User
from chat.models import Workspace
from chat.selectors import workspace_get_for_user, workspace_list_for_user
from chat.services import workspace_create
from providers.selectors import catalog_get_by_ref
from routers.api import ERRORS, MAX_ID, In
from routers.selectors import router_get_for_user

router = Router(tags=["workspaces"])


class WorkspaceIn(In):
    name: str = Field(min_length=1, max_length=100)
    system_prompt: str = Field("", max_length=20_000)
    model: str | None = Field(
        None, max_length=300, description="provider/model-id answering every message"
    )
    router: int | None = Field(
        None, ge=1, le=MAX_ID, description="Id of a router you may use; the workspace then routes"
    )
    tags: list[str] = Field(default_factory=list, max_length=20)
    workspace_type: Literal["general", "coding", "writing", "research"] = Field(
        "general", description="What the workspace is for; rules test it"
    )

    @model_validator(mode="after")
    def _one_answerer(self) -> WorkspaceIn:
        if (self.model is None) == (self.router is None):
            raise ValueError("Give either `model` or `router`.")
        return self


class WorkspaceOut(Schema):
    id: int
    name: str
    owner: str
    mode: Literal["model", "router"]
    model: str | None
    router: int | None
    router_model: str | None = Field(
        description="`router:<slug>` for /v1 when the workspace routes"
    )
    system_prompt: str
    tags: list[str]
    workspace_type: str
    created_at: datetime


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined, return-value]


def _out(workspace: Workspace) -> dict[str, Any]:
    return {
        "id": workspace.pk,
        "name": workspace.name,
        "owner": workspace.owner.username,
        "mode": workspace.mode,
        "model": workspace.model.ref if workspace.model is not None else None,
        "router": workspace.router_id,
        "router_model": f"router:{workspace.router.slug}" if workspace.router is not None else None,
        "system_prompt": workspace.system_prompt,
        "tags": list(workspace.tags or []),
        "workspace_type": workspace.workspace_type,
        "created_at": workspace.created_at,
    }


def _related(qs: Any) -> Any:
    return qs.select_related("owner", "model__provider", "router")


@router.get("", response=list[WorkspaceOut], summary="Workspaces you belong to")
def list_workspaces(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        _out(w)
        for w in _related(workspace_list_for_user(user=_user(request))).order_by("name", "id")
    ]


@router.get("/{int:workspace_id}", response={200: WorkspaceOut, **ERRORS}, summary="A workspace")
def get_workspace(request: HttpRequest, workspace_id: int) -> dict[str, Any]:
    if not 0 < workspace_id <= MAX_ID:
        raise Http404("No such workspace.")
    return _out(workspace_get_for_user(user=_user(request), pk=workspace_id))


@router.post("", response={201: WorkspaceOut, **ERRORS}, summary="Create a workspace")
def create_workspace(request: HttpRequest, payload: WorkspaceIn) -> Status[dict[str, Any]]:
    user = _user(request)
    model = None
    if payload.model is not None:
        model = catalog_get_by_ref(payload.model)
        if model is None:
            raise ValidationError(
                {"model": f"Unknown model '{payload.model}': it is not in the enabled catalog."}
            )
    routed = None
    if payload.router is not None:
        try:
            routed = router_get_for_user(user=user, pk=payload.router)
        except Http404:
            raise ValidationError({"router": "No router with this id that you may use."}) from None
    workspace = workspace_create(
        owner=user,
        name=payload.name.strip() or "Workspace",
        system_prompt=payload.system_prompt,
        model=model,
        router=routed,
        tags=[t.strip() for t in payload.tags if t.strip()],
        workspace_type=payload.workspace_type,
    )
    return Status(201, _out(workspace_get_for_user(user=user, pk=workspace.pk)))
