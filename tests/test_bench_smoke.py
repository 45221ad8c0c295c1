"""The benchmark harness in quick mode: every figure is produced and the runs behind them did
the right thing. Correctness only — no timing is asserted (benchmarks are not tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import run
from bench.report import Row


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Row], Path]:
    out = tmp_path_factory.mktemp("bench")
    rows = run(quick=True, out=out)
    return {row.figure: row for row in rows}, out


def _one(rows: dict[str, Row], prefix: str) -> list[Row]:
    found = [row for name, row in rows.items() if name.startswith(prefix)]
    assert found, f"no row {prefix!r} in {sorted(rows)}"
    return found


def test_every_figure_has_its_rows_and_files(quick: tuple[dict[str, Row], Path]) -> None:
    rows, out = quick
    assert len(_one(rows, "1. cold start")) == 4  # 2 handlers, with and without .pyc
    assert len(_one(rows, "2. Slack ack")) == 4
    assert len(_one(rows, "3. prep trigger throughput")) == 2
    assert len(_one(rows, "4. peak RSS")) == 2
    assert len(_one(rows, "4. RSS growth")) == 2
    assert len(_one(rows, "4. Lambda bundle")) == 1
    assert len(_one(rows, "5. /meetings answer")) == 1
    assert len(_one(rows, "6. work per")) == 2
    assert len(_one(rows, "7. ICS re-import")) == 1
    assert len(_one(rows, "8. serve ack")) == 2
    for row in rows.values():
        if row.figure.startswith("6. work per"):  # counts, no baseline
            assert row.measured is not None and row.measured > 0, row.figure
        elif not row.figure.startswith("4. Lambda bundle"):  # built only in full runs
            assert row.measured is not None and row.measured > 0, row.figure
            assert row.baseline is not None and row.baseline > 0, row.figure
    table = (out / "latest.md").read_text()
    assert "| figure | measured | baseline | ratio | target | result |" in table
    assert all(name in table for name in rows)
    data = json.loads((out / "latest.json").read_text())
    assert {r["figure"] for r in data["rows"]} == set(rows)


def test_duplicate_deliveries_post_nothing_extra(quick: tuple[dict[str, Row], Path]) -> None:
    rows, _ = quick
    distinct, duplicates = _one(rows, "3. prep trigger throughput")
    n = distinct.details["events"]
    assert distinct.details["extra_posts"] == 0
    assert distinct.details["actions"] == {"notified": n}
    assert duplicates.details["events"] == 5 * n
    assert duplicates.details["extra_posts"] == 0
    assert duplicates.details["actions"] == {"notified": n, "duplicate": 4 * n}
    # the floor skips redeliveries too: one post per meeting
    assert distinct.details["floor_posts"] == n
    assert duplicates.details["floor_posts"] == n


def test_slack_requests_were_answered_and_clicks_started_prep(
    quick: tuple[dict[str, Row], Path],
) -> None:
    rows, _ = quick
    details = _one(rows, "2. Slack ack p50, /meetings")[0].details
    assert set(details["statuses"]) == {
        "meetings:200",
        "meetings_bare:200",
        "start_prep:200",
        "start_prep_bare:200",
    }
    assert details["listed_blocks"] > 10  # the 50-meeting listing, not the setup help
    assert details["prep_started"] == details["clicks"]
    # every /meetings and every click: its work ran after the response, via the extension
    assert details["post_response_runs"] == 2 * details["clicks"]


def test_handlers_initialise_without_network_or_twilio(
    quick: tuple[dict[str, Row], Path],
) -> None:
    rows, _ = quick
    for row in _one(rows, "1. cold start, slack-bot"):
        assert row.details["network"] == [], row.figure
    for row in _one(rows, "1. cold start, prep-trigger"):
        # its one request: a GetItem on the loopback DynamoDB (moto), nothing else
        hosts = {entry.split(" ", 1)[1] for entry in row.details["network"]}
        assert all("127.0.0.1" in host for host in hosts), row.details["network"]
        assert "twilio" not in row.details["packages_beyond_floor"]


def test_work_per_event_is_counted(quick: tuple[dict[str, Row], Path]) -> None:
    rows, _ = quick
    delivered, duplicate = _one(rows, "6. work per")
    assert delivered.details["actions"] == {"notified": 10}
    assert duplicate.details["actions"] == {"duplicate": 10}
    assert delivered.details["store_calls"]["claim_notification"] == 10
    assert sum(duplicate.details["store_calls"].values()) >= 10


def test_meetings_listing_answered_both_owners(quick: tuple[dict[str, Row], Path]) -> None:
    rows, _ = quick
    (row,) = _one(rows, "5. /meetings answer")
    assert row.details["large"] == 60 and row.details["small"] == 10
    assert len(row.details["samples"]["large"]) == 3


def test_reimport_of_an_unchanged_feed_writes_nothing(quick: tuple[dict[str, Row], Path]) -> None:
    rows, _ = quick
    (row,) = _one(rows, "7. ICS re-import")
    first, again = row.details["reports"]
    assert first == {"created": 100, "unchanged": 0}
    assert again == {"created": 0, "unchanged": 100}


def test_serve_answered_every_request_and_did_each_piece_of_work_once(
    quick: tuple[dict[str, Row], Path],
) -> None:
    rows, _ = quick
    details = _one(rows, "8. serve ack p99")[0].details
    assert details["errors"] == {"serve": 0, "bare": 0}
    assert set(details["outcomes"]["serve"]) == {"200"}
    assert details["post_response_calls"] == {
        "chat.update": details["clicks"],
        "response_url": details["listings"],
    }
