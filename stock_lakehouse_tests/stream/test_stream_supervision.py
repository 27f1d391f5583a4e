"""One stream per checkpoint, and no stream outlives its supervisor (the real job, broker, store).

Each stream runs as `python spark_jobs/stream_ticks.py`, as Dagster's Pipes client or an operator
starts it, and every process a test starts is stopped by the test by its PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stock_lakehouse.process_identity import group_members
from stock_lakehouse.services.manager import LocalServices
from stock_lakehouse.settings import PROJECT_ROOT
from stock_lakehouse.stream_lease import LeaseHolder, StreamLease
from stock_lakehouse_tests.support.kafka_topics import create_topic
from stock_lakehouse_tests.support.stream_job import (
    JOB,
    TickProducer,
    job_env,
    kill_group,
    read_tables,
    start_job,
)
from stock_lakehouse_tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def command_line(pid: int) -> str:
    try:
        return f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return f"{pid}: (gone)"


def committed_batches(checkpoint: Path) -> int:
    folder = checkpoint / "commits"
    return sum(1 for p in folder.iterdir() if p.name.isdigit()) if folder.exists() else 0


def group_gone(pgid: int) -> bool:
    """No live process left in the group (a zombie not yet reaped by its parent is gone)."""
    return not group_members(pgid)


def test_a_second_stream_on_a_held_checkpoint_exits_at_once_and_services_down_stops_the_first(
    services, unique_name, test_state_dir
):
    create_topic(services.kafka.bootstrap_servers, unique_name, partitions=1)
    TickProducer(services.kafka.bootstrap_servers, unique_name).produce(200)
    # A sibling of the configured checkpoint, as a replay's checkpoint is.
    checkpoint = services.stream.checkpoint_dir.parent / unique_name
    state = test_state_dir / unique_name
    state.mkdir(parents=True)
    env = job_env(services, unique_name, checkpoint)
    log = state / "first.log"
    first = start_job(env, unique_name, log=log)
    try:
        wait_for(lambda: committed_batches(checkpoint), "a committed batch", 240, log)
        holder = StreamLease(checkpoint).holder()
        assert holder is not None and holder.pid == first.pid and holder.alive()

        started = time.monotonic()
        second = subprocess.run(
            [sys.executable, str(JOB), "--topic", unique_name],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # At once: before any Spark session is started (no JVM, no Spark log line).
        assert time.monotonic() - started < 30
        assert second.returncode == 3, second.stderr[-2000:]
        assert "Spark" not in second.stderr + second.stdout
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"PID {first.pid}" in lines[0], second.stderr
        assert "only one stream may run on a checkpoint" in lines[0]
        assert "stock-lakehouse services down" in lines[0]

        # services down finds it by its lease, though no Dagster run knows it.
        stopped = LocalServices(services).stop_streams()
        assert stopped == [f"stream_ticks (PID {first.pid})"]
        assert first.wait(timeout=5) == 0  # a graceful stop, after the current batch
        assert group_gone(first.pid)  # the JVM too
        assert StreamLease(checkpoint).holder() is None
    finally:
        kill_group(first, signal.SIGKILL)


def test_the_stream_stops_when_its_parent_dies_and_a_restart_loses_nothing(
    services, unique_name, test_state_dir
):
    """kill -9 of the process that started the stream (the Dagster run worker, in a deployment)."""
    create_topic(services.kafka.bootstrap_servers, unique_name, partitions=2)
    producer = TickProducer(services.kafka.bootstrap_servers, unique_name)
    producer.produce(3_000)
    checkpoint = test_state_dir / unique_name / "checkpoint"
    state = test_state_dir / unique_name
    state.mkdir(parents=True)
    log = state / "stream.log"
    env = job_env(services, unique_name, checkpoint)
    # A parent that starts the stream as Pipes does (same process group, no new session).
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            f"subprocess.Popen([sys.executable, {str(JOB)!r}, '--topic', {unique_name!r}], "
            f"stdout=open({str(log)!r}, 'ab'), stderr=subprocess.STDOUT); time.sleep(3600)",
        ],
        env=env,
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )
    holder: LeaseHolder | None = None
    try:
        wait_for(lambda: committed_batches(checkpoint), "a committed batch", 240, log)
        holder = StreamLease(checkpoint).holder()
        assert holder is not None and holder.alive()
        assert os.getpgid(holder.pid) == holder.pid != parent.pid  # a process group of its own
        producer.produce(2_000)

        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        trigger = 1.0  # job_env's STREAM_TRIGGER_SECONDS
        started = time.monotonic()
        wait_for(lambda: group_gone(holder.pid), "the orphaned stream to stop", 60, log)
        assert time.monotonic() - started < trigger + 10 + 2  # + the watchdog's 1 s poll
        assert "is gone: stopping after the current micro-batch" in log.read_text()
    finally:
        for pgid in (parent.pid, holder.pid if holder else None):
            if pgid is not None and not group_gone(pgid):
                os.killpg(pgid, signal.SIGKILL)
        parent.wait(timeout=10)

    landed = drain_and_count(services, unique_name, checkpoint, log)
    assert len(landed) == len(set(landed)) == 5_000  # every offset once
    assert set(landed) == set(producer.acked)


def test_sigterm_stops_a_stream_that_cannot_reach_kafka_within_the_trigger_plus_10s(
    services, unique_name, test_state_dir
):
    state = test_state_dir / unique_name
    state.mkdir(parents=True)
    log = state / "stream.log"
    env = {
        **job_env(services, unique_name, state / "checkpoint"),
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # nothing listens there
        "STREAM_TRIGGER_SECONDS": "2",
    }
    job = start_job(env, unique_name, log=log)
    try:
        wait_for(lambda: "stream_ticks started" in log.read_text(), "the query", 240, log)
        time.sleep(3)  # into its first trigger, stuck on offset fetches
        started = time.monotonic()
        job.send_signal(signal.SIGTERM)
        job.wait(timeout=60)
        assert time.monotonic() - started < 2 + 10
        wait_for(lambda: group_gone(job.pid), "its JVM to end", 10, log)
    finally:
        kill_group(job, signal.SIGKILL)


def processes_with(prefix: str) -> list[int]:
    """Every process (drivers, JVMs) whose environment writes under this S3 prefix."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                environ = (proc / "environ").read_bytes().split(b"\0")
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z" and f"S3_PREFIX={prefix}".encode() in environ:
                found.append(int(proc.name))
    return found


def stream_processes(prefix: str) -> list[int]:
    """PIDs of stream_ticks.py drivers writing under this S3 prefix."""
    drivers = []
    for pid in processes_with(prefix):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if any(c.endswith(b"stream_ticks.py") for c in cmdline):
                drivers.append(pid)
    return drivers


def drain_and_count(services, prefix: str, checkpoint: Path, log: Path) -> list[tuple[int, int]]:
    """Drain the topic on the checkpoint (availableNow), then every (partition, offset) landed."""
    drain = start_job(job_env(services, prefix, checkpoint), prefix, "--available-now", log=log)
    try:
        assert drain.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
        kill_group(drain, signal.SIGKILL)
    raw, bad = read_tables(services, prefix)
    return [(p, o) for p, o in raw] + [(p, o) for p, o, _ in bad]


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_kill_9_of_the_run_worker_then_of_the_stream_leaves_one_supervised_stream_each_time(
    services, unique_name, test_state_dir, monkeypatch
):
    """The supervisor restarts the stream after either death; never two streams; nothing lost."""
    import dagster as dg

    from stock_lakehouse_tests.support.dagster_graphql import DAGSTER_PORT
    from stock_lakehouse_tests.support.dagster_platform import running_dagster

    create_topic(services.kafka.bootstrap_servers, unique_name, partitions=2)
    producer = TickProducer(services.kafka.bootstrap_servers, unique_name)
    producer.produce(2_000)
    state = test_state_dir / unique_name
    checkpoint = state / "checkpoint"
    env = {
        "S3_PREFIX": unique_name,
        "KAFKA_TICKS_TOPIC": unique_name,
        "STREAM_CHECKPOINT_DIR": str(checkpoint),
        "STREAM_TRIGGER_SECONDS": "1",
        "STREAM_RESTART_BACKOFF_SECONDS": "2",
        "DAGSTER_STORAGE_DIR": str(state / "dagster"),
    }
    settings = services.model_copy(
        update={
            "local": services.local.model_copy(
                update={"dagster_port": DAGSTER_PORT, "state_dir": state}
            ),
            "stream": services.stream.model_copy(update={"checkpoint_dir": checkpoint}),
        }
    )
    instance = None

    def supervised_stream(not_runs: set[str]) -> LeaseHolder | None:
        """The lease holder, once it is a new, STARTED ingest_stream run that has committed."""
        holder = StreamLease(checkpoint).holder()
        if holder is None or holder.run_id in not_runs or holder.run_id is None:
            return None
        run = instance.get_run_by_id(holder.run_id)
        started = run is not None and run.status == dg.DagsterRunStatus.STARTED
        return holder if started and run.job_name == "ingest_stream" else None

    try:
        # No other runs than the stream's; leaving the block terminates the stream run first.
        with running_dagster(
            settings, env, monkeypatch, keep_sensors=frozenset({"stream_supervisor"})
        ):
            instance = dg.DagsterInstance.get()
            first = wait_for(lambda: supervised_stream(set()), "the supervised stream", 300)
            wait_for(lambda: committed_batches(checkpoint), "a committed batch", 120)

            # 1. kill -9 of the Dagster process that runs the stream (the run worker's step process,
            # whose children are the stream and Pipes' log tails).
            worker = parent_pid(first.pid)
            assert b"multiprocessing" in Path(f"/proc/{worker}/cmdline").read_bytes()
            os.kill(worker, signal.SIGKILL)
            wait_for(lambda: group_gone(first.pid), "the orphaned stream to stop", 30)
            producer.produce(1_000)
            second = wait_for(lambda: supervised_stream({first.run_id}), "a new stream run", 300)
            assert instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.FAILURE
            assert stream_processes(unique_name) == [second.pid]

            # 2. kill -9 of the stream itself (driver and JVM).
            os.killpg(second.pid, signal.SIGKILL)
            producer.produce(1_000)
            third = wait_for(
                lambda: supervised_stream({first.run_id, second.run_id}), "a third stream run", 300
            )
            assert stream_processes(unique_name) == [third.pid]
    finally:
        leftovers = LocalServices(settings).stop_streams()
        if instance is not None:
            instance.dispose()
    assert leftovers == []  # the terminated run's stream had stopped with its run
    assert stream_processes(unique_name) == []
    # Nor any other process of these streams (their JVMs carry the same environment).
    wait_for(
        lambda: not processes_with(unique_name),
        "every JVM of the streams to end",
        30,
        describe=lambda: "\n".join(command_line(pid) for pid in processes_with(unique_name)),
    )

    # What the three streams left: every offset once, after a drain of the rest.
    landed = drain_and_count(services, unique_name, checkpoint, state / "drain.log")
    assert len(landed) == len(set(landed)) == 4_000
    assert set(landed) == set(producer.acked)


def test_the_stream_op_stops_a_stream_whose_run_has_ended_and_refuses_beside_a_running_one(
    services, unique_name, test_state_dir, capsys
):
    """What run_stream does before it starts a stream: the lease's holder decides."""
    import dagster as dg

    from stock_lakehouse.defs.ingest.jobs import ingest_stream, stop_orphan_stream
    from stock_lakehouse.stream_lease import RUN_ID_ENV

    create_topic(services.kafka.bootstrap_servers, unique_name, partitions=1)
    TickProducer(services.kafka.bootstrap_servers, unique_name).produce(100)
    state = test_state_dir / unique_name
    state.mkdir(parents=True)
    checkpoint, log = state / "checkpoint", state / "stream.log"
    settings = services.model_copy(
        update={"stream": services.stream.model_copy(update={"checkpoint_dir": checkpoint})}
    )
    with dg.instance_for_test() as instance:
        old_run = instance.create_run_for_job(ingest_stream)
        env = {**job_env(services, unique_name, checkpoint), RUN_ID_ENV: old_run.run_id}
        stream = start_job(env, unique_name, log=log)
        try:
            holder = wait_for(lambda: StreamLease(checkpoint).holder(), "the lease", 120, log)
            assert holder.run_id == old_run.run_id

            # Its run has not ended: the op refuses, and the stream keeps running.
            with pytest.raises(dg.Failure, match=f"PID {stream.pid}.*already runs"):
                stop_orphan_stream(dg.build_op_context(instance=instance), settings)
            assert holder.alive()

            instance.report_run_failed(old_run)
            capsys.readouterr()
            stop_orphan_stream(dg.build_op_context(instance=instance), settings)
            logged = capsys.readouterr().err  # the op's log lines, as the run's log shows them
            assert f"stopping the stream PID {stream.pid}" in logged
            assert "its run has ended (FAILURE)" in logged
            assert group_gone(stream.pid)
            assert StreamLease(checkpoint).holder() is None
        finally:
            kill_group(stream, signal.SIGKILL)
