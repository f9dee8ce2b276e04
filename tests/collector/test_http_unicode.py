"""A lone UTF-16 surrogate in JSON sent to the real HTTP collector: the row is quarantined, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from duckwatch.config import DataDir
from duckwatch.readmodels.views import quarantine_rows
from tests.collector.test_http import AUTH, _overview, _rows, _tick, serve

# Written by hand: JSON libraries refuse to encode a lone surrogate, but a client can still send one.
LONE_IN_VALUE = '{"id": "bad-value", "score": 0.2, "note": "broken \\ud800 text"}'
LONE_IN_KEY = '{"id": "bad-key", "score": 0.3, "n\\udc00te": "fine"}'
NOT_VALID_UNICODE = "not valid Unicode"


@pytest.fixture
def client(data_dir: DataDir) -> Iterator[httpx.Client]:
    with serve(data_dir) as base, httpx.Client(base_url=base, timeout=30, headers=AUTH) as c:
        yield c


def _post(
    client: httpx.Client, body: str, key: str | None = None, stream: str = "predictions"
) -> httpx.Response:
    headers = {"Content-Type": "application/json"} | ({"Idempotency-Key": key} if key else {})
    return client.post(f"/v1/models/m/{stream}", content=body.encode("ascii"), headers=headers)


def _batch(*raw_rows: str, **extra: str) -> str:
    good = [json.dumps(r) for r in _rows(3, "ok")]
    return (
        '{"rows": ['
        + ", ".join([*good, *raw_rows])
        + "]"
        + "".join(f", {json.dumps(k)}: {v}" for k, v in extra.items())
        + "}"
    )


def test_the_good_rows_land_and_the_unreadable_ones_are_quarantined_with_the_reason(
    client: httpx.Client, data_dir: DataDir
) -> None:
    r = _post(client, _batch(LONE_IN_VALUE, LONE_IN_KEY))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["accepted"], answer["landed"], answer["quarantined"]) == (5, 3, 2)
    assert len(answer["reasons"]) == 2 and all(NOT_VALID_UNICODE in why for why in answer["reasons"])
    assert any('column "note"' in why for why in answer["reasons"])
    assert any('column name ("n\\udc00te")' in why for why in answer["reasons"])

    one = _post(client, LONE_IN_VALUE)  # a one-row body: the same answer for its only row
    assert one.status_code == 200, one.text
    assert (one.json()["landed"], one.json()["quarantined"]) == (0, 1)
    assert client.get("/healthz").json()["quarantined"] == 3

    _tick(data_dir)
    assert _overview(data_dir)["m"]["predictions"] == 3
    kept = quarantine_rows(data_dir, "m")
    assert len(kept) == 3 and kept["reason"].str.contains(NOT_VALID_UNICODE).all()
    # The raw JSON keeps the escape as it was sent (readable text, the row's other values intact).
    raws = sorted(json.loads(raw)["id"] for raw in kept["raw"])
    assert raws == ["bad-key", "bad-value", "bad-value"]
    assert any("\\ud800" in raw for raw in kept["raw"]) and any("\\udc00" in raw for raw in kept["raw"])


def test_a_retried_keyed_batch_is_stored_and_quarantined_once(
    client: httpx.Client, data_dir: DataDir
) -> None:
    body = _batch(LONE_IN_VALUE)
    first = _post(client, body, key="batch-1")
    assert first.status_code == 200, first.text
    again = _post(client, body, key="batch-1")
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert {k: again.json()[k] for k in ("accepted", "landed", "quarantined", "reasons")} == {
        k: first.json()[k] for k in ("accepted", "landed", "quarantined", "reasons")
    }
    only_bad = '{"rows": [' + LONE_IN_KEY + "]}"
    for _ in range(2):  # no row lands: nothing else remembers the key, the quarantine file does
        r = _post(client, only_bad, key="batch-2")
        assert r.status_code == 200 and (r.json()["landed"], r.json()["quarantined"]) == (0, 1)
    _tick(data_dir)
    assert _post(client, only_bad, key="batch-2").status_code == 200  # after the job took it in
    _tick(data_dir)
    assert _overview(data_dir)["m"]["predictions"] == 3
    assert sorted(json.loads(raw)["id"] for raw in quarantine_rows(data_dir, "m")["raw"]) == [
        "bad-key",
        "bad-value",
    ]


def test_outcomes_too_and_batch_fields_in_invalid_text_are_a_clear_422(client: httpx.Client) -> None:
    outcomes = _post(
        client, '{"rows": [{"id": "a", "label": 1}, {"id": "\\ud83d", "label": 0}]}', stream="outcomes"
    )
    assert outcomes.status_code == 200, outcomes.text
    assert (outcomes.json()["landed"], outcomes.json()["quarantined"]) == (1, 1)
    for extra in (
        {"version": '"v\\ud800"'},
        {"roles": '{"id": "\\udfff"}'},
        {"roles": '{"scores": ["p", "\\ud800"]}'},
    ):
        r = _post(client, _batch(**extra))
        assert r.status_code == 422, (extra, r.text)
        assert r.json()["error"] == "invalid_text" and NOT_VALID_UNICODE in r.json()["detail"]
    pair = _post(client, '{"id": "emoji", "note": "\\ud83d\\ude00", "score": 0.5}')  # a whole pair is text
    assert pair.status_code == 200 and pair.json()["landed"] == 1
