"""ingest_stream: a Dagster run that supervises the long-running Spark streaming job.

The run lasts as long as the stream: Dagster Pipes runs spark_jobs/stream_ticks.py as a subprocess,
forwards its log lines and per-batch metrics into the run, and on termination sends it SIGINT,
which the job honours after its current micro-batch. The stream stops by itself when this run's
worker dies; a stream that still holds the checkpoint's lease although its run has ended (it was
stopping, or outlived its worker) is stopped here before the new one starts.
"""

import sys

import dagster as dg

from stock_lakehouse.parent_watch import parent_env
from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse.stream_lease import RUN_ID_ENV, StreamLease, stop_stream

STREAM_JOB = PROJECT_ROOT / "spark_jobs" / "stream_ticks.py"


class StreamConfig(dg.Config):
    """Per-run knobs; the defaults are the supervised, never-ending stream."""

    available_now: bool = False  # drain what Kafka holds now, then end (catch-up, replays)
    topic: str = ""  # default KAFKA_TICKS_TOPIC


def stream_command(settings: Settings, config: StreamConfig) -> list[str]:
    """The stream runs with this interpreter; pyspark starts its JVM with the project's jars.

    Not spark-submit: Pipes forwards termination as SIGINT to its child, and only the Python
    driver turns SIGINT into a stop after the current batch (pyspark's JVM ignores SIGINT).
    """
    command = [
        sys.executable,
        str(STREAM_JOB),
        "--topic",
        config.topic or settings.kafka.ticks_topic,
    ]
    return [*command, "--available-now"] if config.available_now else command


@dg.op(description="Runs spark_jobs/stream_ticks.py until it stops, fails or the run is ended.")
def run_stream(
    context: dg.OpExecutionContext,
    config: StreamConfig,
    pipes_subprocess_client: dg.PipesSubprocessClient,
    settings: dg.ResourceParam[Settings],
) -> None:
    stop_orphan_stream(context, settings)
    command = stream_command(settings, config)
    context.log.info(f"starting: {' '.join(command)}")
    pipes_subprocess_client.run(
        command=command,
        context=context,
        cwd=str(PROJECT_ROOT),
        env={RUN_ID_ENV: context.run_id, **parent_env()},
    )


def stop_orphan_stream(context: dg.OpExecutionContext, settings: Settings) -> None:
    """Stop the stream holding the checkpoint if its run is over; fail if its run still runs."""
    holder = StreamLease(settings.stream.checkpoint_dir).holder()
    if holder is None:
        return
    run = context.instance.get_run_by_id(holder.run_id) if holder.run_id else None
    if run is not None and not run.is_finished:
        raise dg.Failure(
            f"the stream {holder.describe()} already runs on {settings.stream.checkpoint_dir} "
            f"and its run is {run.status.value}: terminate that run to restart the stream"
        )
    status = run.status.value if run is not None else "no Dagster run"
    context.log.warning(
        f"stopping the stream {holder.describe()}: it still holds the checkpoint "
        f"{settings.stream.checkpoint_dir} although its run has ended ({status})"
    )
    grace = settings.stream.trigger_seconds + 10
    if not stop_stream(holder, grace_seconds=grace):
        raise dg.Failure(f"could not stop the stream {holder.describe()} within {grace:.0f}s")
    context.log.info(f"stopped the stream PID {holder.pid}")


@dg.job(
    description="The Kafka -> raw_ticks stream, supervised by the stream_supervisor sensor.",
    # Restarts belong to the stream_supervisor sensor (back-off, a person's stop respected), not
    # to the daemon's run retries (dagster.yaml), which would race it for the checkpoint.
    tags={"stock_lakehouse/role": "stream", "dagster/max_retries": "0"},
    # Its op in a process of its own, as the stream's supervision and termination are tested
    # (the batch jobs run their steps in the run worker: see definitions.py).
    executor_def=dg.multiprocess_executor,
)
def ingest_stream() -> None:
    run_stream()
