"""The alerts sensor against a real Dagster instance and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from stock_lakehouse.compaction.audit import ROWS_CHECK
from stock_lakehouse.definitions import defs
from stock_lakehouse.defs.automation.alerts import alerts
from stock_lakehouse.settings import AlertSettings, Settings

CHECK = dg.AssetCheckKey(dg.AssetKey("compacted_ticks"), ROWS_CHECK)


class Receiver:
    """A webhook on 127.0.0.1 that keeps every JSON body it is sent; `up = False` answers 503."""

    def __init__(self) -> None:
        self.notices: list[dict] = []
        self.up = True
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.up:
                    receiver.notices.append(json.loads(body))
                self.send_response(200 if receiver.up else 503)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


class Ticks:
    """Evaluates the real alerts sensor, carrying its cursor like the daemon does."""

    def __init__(self, instance: dg.DagsterInstance, webhook: str, file: Path) -> None:
        self.instance = instance
        self.settings = Settings(alerts=AlertSettings(webhook_url=webhook, file=file))
        self.repository = defs().get_repository_def()
        self.cursor: str | None = None

    def run(self) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            repository_def=self.repository,
            resources={"settings": self.settings},
        )
        result = alerts(context)
        self.cursor = result.cursor
        return result


def check(instance: dg.DagsterInstance, passed: bool) -> None:
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(asset_key=CHECK.asset_key, check_name=CHECK.name, passed=passed)
    )


def report(instance: dg.DagsterInstance, run: dg.DagsterRun, event: dg.DagsterEventType) -> None:
    instance.handle_new_event(
        dg.EventLogEntry(
            error_info=None,
            level="debug",
            user_message="",
            run_id=run.run_id,
            timestamp=time.time(),
            dagster_event=dg.DagsterEvent(event_type_value=event.value, job_name=run.job_name),
        )
    )


def events(notices: list[dict]) -> list[tuple[str, str]]:
    return [(n["event"], n["key"]) for n in notices]


def test_a_failing_check_sends_one_open_then_one_resolved_to_the_webhook_and_the_file(
    receiver, tmp_path
):
    file = tmp_path / "alerts.jsonl"
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance, receiver.url, file)
        ticks.run()
        assert receiver.notices == []

        check(instance, passed=False)
        ticks.run()
        ticks.run()  # still failing: nothing new
        key = f"check:compacted_ticks/{ROWS_CHECK}"
        assert events(receiver.notices) == [("open", key)]

        check(instance, passed=True)
        ticks.run()
        ticks.run()
    assert events(receiver.notices) == [("open", key), ("resolved", key)]
    assert [json.loads(line) for line in file.read_text().splitlines()] == receiver.notices


def test_a_notice_the_webhook_refused_is_sent_once_it_answers(receiver, tmp_path):
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance, receiver.url, tmp_path / "alerts.jsonl")
        receiver.up = False
        check(instance, passed=False)
        ticks.run()
        assert receiver.notices == []
        assert not (tmp_path / "alerts.jsonl").exists()  # neither place, so no duplicate later

        receiver.up = True
        ticks.run()
        ticks.run()
    assert events(receiver.notices) == [("open", f"check:compacted_ticks/{ROWS_CHECK}")]


def test_a_failed_run_opens_until_a_later_run_of_its_day_succeeds_and_a_retried_one_waits(
    receiver, tmp_path
):
    from stock_lakehouse.defs.automation.jobs import daily_refresh

    job = defs().resolve_job_def(daily_refresh.name)
    day = {"dagster/partition": "2026-03-03"}
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance, receiver.url, tmp_path / "alerts.jsonl")
        retried = instance.create_run_for_job(
            job, run_config={}, tags={**day, "dagster/will_retry": "true"}
        )
        instance.report_run_failed(retried)
        ticks.run()
        assert receiver.notices == []  # the daemon retries it: not a problem yet

        failed = instance.create_run_for_job(job, run_config={}, tags=day)
        instance.report_run_failed(failed)
        ticks.run()
        key = "run:daily_refresh[2026-03-03]"
        assert events(receiver.notices) == [("open", key)]
        assert receiver.notices[0]["details"]["run_id"] == failed.run_id

        fixed = instance.create_run_for_job(job, run_config={}, tags=day)
        report(instance, fixed, dg.DagsterEventType.RUN_START)
        ticks.run()
        assert events(receiver.notices) == [("open", key)]  # started is not fixed yet
        report(instance, fixed, dg.DagsterEventType.RUN_SUCCESS)
        ticks.run()
    assert events(receiver.notices) == [("open", key), ("resolved", key)]
