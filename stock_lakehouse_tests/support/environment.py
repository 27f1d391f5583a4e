"""Where the test services live: ports, state folder and the environment every test process sees.

Two test runs can share a machine (a developer's and a clean-clone CI run, say) when one sets
STOCK_LAKEHOUSE_TEST_PORT_OFFSET (e.g. 300): it shifts every port and the state folder. Every port,
SeaweedFS's gRPC ports (+10000) included, stays below 32768: Linux hands out 32768-60999 as
ephemeral client ports, and a broker once failed to bind 39092 because a client connection was
using it."""

from __future__ import annotations

import os
from pathlib import Path

from stock_lakehouse.settings import PROJECT_ROOT

PORT_OFFSET = int(os.environ.get("STOCK_LAKEHOUSE_TEST_PORT_OFFSET", "0"))


# Set by `make test-unit`: a test that asks for the services there is missing its mark.
UNIT_LANE_ENV = "STOCK_LAKEHOUSE_UNIT_LANE"


TEST_STATE_DIR = PROJECT_ROOT / ".state" / (f"test-{PORT_OFFSET}" if PORT_OFFSET else "test")


def service_ports_env(state_dir: Path, kafka: int, seaweed: int, s3: int) -> dict[str, str]:
    """Env for one private set of servers: Kafka on `kafka`/+1, SeaweedFS on `seaweed`+0/1/2."""
    return {
        "STOCK_LAKEHOUSE_STATE_DIR": str(state_dir),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "STOCK_LAKEHOUSE_KAFKA_CONTROLLER_PORT": str(kafka + 1),
        "STOCK_LAKEHOUSE_SEAWEED_MASTER_PORT": str(seaweed),
        "STOCK_LAKEHOUSE_SEAWEED_VOLUME_PORT": str(seaweed + 1),
        "STOCK_LAKEHOUSE_SEAWEED_FILER_PORT": str(seaweed + 2),
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
    }


TEST_ENV = {
    **service_ports_env(
        TEST_STATE_DIR / "services",
        kafka=12092 + PORT_OFFSET,
        seaweed=12333 + PORT_OFFSET,
        s3=11333 + PORT_OFFSET,
    ),
    "S3_ACCESS_KEY_ID": "test-access-key",
    "S3_SECRET_ACCESS_KEY": "test-secret-key",
    "S3_BUCKET": "lakehouse-test",
    "SPARK_MASTER": "local[2]",
    # Never the demo's checkpoint: `services down` in a test stops the streams on these.
    "STREAM_CHECKPOINT_DIR": str(TEST_STATE_DIR / "checkpoints" / "stream_ticks"),
    # A batch on every trigger: the stream tests produce a few ticks at a time and follow each
    # batch; the quiet stream's wait for a minimum batch has a test of its own.
    "STREAM_MIN_BATCH_TICKS": "0",
    "DAGSTER_HOME": str(PROJECT_ROOT),
    "DAGSTER_STORAGE_DIR": str(TEST_STATE_DIR / "dagster"),
}
