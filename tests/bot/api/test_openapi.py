"""The OpenAPI document declares what each /api/ route answers, and the answers have that shape."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .conftest import ADMIN, Seeded


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
    ]


def test_every_route_declares_its_body_and_its_refusals(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    found = operations(document)
    assert len(found) == 33  # 3 households and signals, 9 participation, 10 notice board
    problem = {"$ref": "#/components/schemas/Problem"}
    for method, path, operation in found:
        answers = operation["responses"]
        assert operation["security"] == [{"HTTPBearer": []}], path
        ok = next(status for status in answers if status.startswith("2"))
        assert "schema" in answers[ok]["content"]["application/json"], (method, path)
        for status in ("401", "503"):
            assert answers[status]["content"]["application/json"]["schema"] == problem, (method, path, status)
        assert "422" in answers and "404" in answers, (method, path)
    refusals = document["paths"]["/api/ledger/{entry_id}/reverse"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "422", "503"} <= set(refusals)


def test_refusals_have_the_declared_shape(client: TestClient, seeded: Seeded) -> None:
    unknown = client.get("/api/tickets/ZZZZZZ", headers=ADMIN)
    assert unknown.status_code == 404 and set(unknown.json()) == {"detail"}
    no_token = client.get("/api/tickets")
    assert no_token.status_code == 401 and no_token.headers["WWW-Authenticate"] == "Bearer"
    assert set(no_token.json()) == {"detail"}
    # The admin token must name who acts: the same 422 shape as a bad field.
    unnamed = client.post(f"/api/tickets/{seeded.ticket}/accept", headers=ADMIN, json={})
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"][0]["loc"] == ["body", "worker"]
    # A refused action keeps WeCom's words as well.
    outsider = client.post(f"/api/tickets/{seeded.ticket}/accept", headers=ADMIN, json={"worker": "lijianguo"})
    assert outsider.status_code == 403
    assert outsider.json()["ok"] is False and outsider.json()["message"] == outsider.json()["detail"]
    nobody = client.post(f"/api/tickets/{seeded.ticket}/transfer", headers=ADMIN, json={"worker": "zhangli", "to": "x"})
    assert nobody.status_code == 404 and "未转派" in nobody.json()["detail"]


def test_a_wrong_method_names_every_method_of_the_path(client: TestClient, seeded: Seeded) -> None:
    response = client.request("DELETE", "/api/activities", headers=ADMIN)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "POST"}
