"""Out-of-range numbers, times without a zone and deeply nested JSON get a clear 400, not 500.

The guard (core.web.inputs) covers every route from the parameters each declares; these
requests each answered 500 before it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World

HUGE = 10**30


@pytest.mark.parametrize(
    ("path", "role", "field"),
    [
        (f"/audit/events?user={HUGE}", "client_admin", "user"),
        (f"/audit/events?offset={HUGE}", "client_admin", "offset"),
        (f"/audit/events.csv?user=-{HUGE}", "client_admin", "user"),
        ("/audit/events?since=2026-12-01T09:00:00", "client_admin", "since"),
        ("/audit/events.csv?until=2026-12-01T09:00:00", "client_admin", "until"),
        (f"/customers/?offset={HUGE}", "supervisor", "offset"),
        (f"/exports/{HUGE}/download", "supervisor", "export_id"),
        (f"/exports/{2**31}/download", "supervisor", "export_id"),  # past PostgreSQL's INTEGER
    ],
)
async def test_out_of_range_numbers_and_naive_times_are_refused_naming_the_field(
    app: Any, world: World, path: str, role: str, field: str
) -> None:
    response = await app.get(f"/api/v1/t/{world.a.slug}{path}", headers=world.headers[f"a:{role}"])
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


async def test_numbers_and_times_within_range_still_work(app: Any, world: World) -> None:
    headers = world.headers["a:client_admin"]
    since = "2026-01-01T00:00:00%2B09:00"
    url = f"/api/v1/t/{world.a.slug}/audit/events?since={since}&user={2**31 - 1}&offset=0"
    assert (await app.get(url, headers=headers)).status_code == 200


@pytest.mark.parametrize("opening", ["[", '{"a":'])
async def test_a_json_body_nested_100k_deep_is_refused(
    app: Any, world: World, opening: str
) -> None:
    body = opening * 100_000 + "1" + ("]" if opening == "[" else "}") * 100_000
    json_headers = {"content-type": "application/json"}
    login = await app.post("/api/v1/auth/login", content=body, headers=json_headers)
    assert login.status_code == 400 and login.json()["error"]["code"] == "bad_request"
    customers = await app.post(
        f"/api/v1/t/{world.a.slug}/customers/",
        content=body,
        headers={**json_headers, **world.headers["a:supervisor"]},
    )
    assert customers.status_code == 400, customers.text


async def test_brackets_inside_json_strings_do_not_count_as_nesting(app: Any) -> None:
    password = "[{" * 100 + '\\"' + "]}" * 100
    body = '{"email": "nobody@example.jp", "password": "' + password + '"}'
    response = await app.post(
        "/api/v1/auth/login", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 401  # read and refused as a wrong password, not as deep JSON
