"""`/api/profiles`: everyone reads the profiles, admins define, change and delete them through
the same audited service as the Profiles page, errors located at the field."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from tests.api.test_json_api import api_as  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_json_api_reads_and_writes_profiles_with_the_same_checks(
    api_as,  # noqa: F811
    admin_user,
    owner,
    demo_catalog,
):
    member, admin = api_as(owner), api_as(admin_user)
    listed = member.get("/profiles").json()
    assert [p["name"] for p in listed] == ["code", "creative", "fast", "general"]
    assert listed[2]["origin"] == "built-in" and listed[2]["requirements"] == "small"
    assert member.post("/profiles", {"name": "x"}).status_code == 403

    bad = admin.post("/profiles", {"name": "v", "size_classes": ["huge"]})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {
            "field": "size_classes",
            "message": "Size class: 'huge' is not one of small, medium, large",
        }
    ]
    assert (
        admin.post("/profiles", {"name": "v", "max_price": -1}).json()["errors"][0]["field"]
        == "max_price"
    )
    created = admin.post("/profiles", {"name": "Vision", "needs_images": True})
    assert created.status_code == 201
    assert created.json()["name"] == "vision" and created.json()["origin"] == "admin"
    assert AuditEntry.objects.filter(action="profile.create", actor=admin_user).exists()

    patched = admin.patch("/profiles/vision", {"max_price": 12.5, "size_classes": ["large"]})
    assert patched.status_code == 200 and patched.json()["max_price"] == 12.5
    assert admin.patch("/profiles/vision", {"min_context": -5}).status_code == 422
    assert member.patch("/profiles/vision", {"min_context": 5}).status_code == 403
    # A built-in one changed through the API is saved as its redefinition.
    redefined = admin.patch("/profiles/code", {"min_context": 1000})
    assert redefined.json()["origin"] == "redefined" and redefined.json()["min_context"] == 1000
    assert admin.get("/profiles/nope").status_code == 404
    assert member.delete("/profiles/vision").status_code == 403
    assert admin.delete("/profiles/vision").status_code == 204
    assert admin.delete("/profiles/fast").status_code == 404
    assert admin.delete("/profiles/code").status_code == 204
    assert admin.get("/profiles/code").json()["origin"] == "built-in"
    assert AuditEntry.objects.filter(action="profile.delete").count() == 2
