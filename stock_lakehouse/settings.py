"""Typed configuration for the whole platform, read once from the environment (and `.env`).

Every S3 access, Kafka client, Spark session and local service reads its endpoints from here, so
swapping the local SeaweedFS store for MinIO or AWS S3 is a matter of environment variables.
`.env.example` documents each variable.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.market_calendar import DEFAULT_CALENDAR
from stock_lakehouse.ticks import DEFAULT_TICKERS, EventTimeBounds

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=PROJECT_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )


class S3Settings(BaseSettings):
    """Any S3-compatible store: SeaweedFS locally, MinIO or AWS S3 by configuration."""

    model_config = _config("S3_")

    endpoint_url: str = "http://127.0.0.1:8333"
    access_key_id: str = "lakehouse"
    secret_access_key: SecretStr = SecretStr("lakehouse-local-secret")
    region: str = "us-east-1"
    # Path-style addressing: local stores have no per-bucket DNS names.
    path_style: bool = True
    bucket: str = "lakehouse"
    # Folder inside the bucket under which every table lives ("" = the bucket's root); lets
    # several environments (or test runs) share one bucket.
    prefix: str = ""

    @property
    def use_ssl(self) -> bool:
        return self.endpoint_url.startswith("https://")

    @property
    def host_port(self) -> str:
        """`host:port` without scheme, the form DuckDB's S3 secret expects."""
        return urlsplit(self.endpoint_url).netloc

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint_url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.endpoint_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    def key(self, *parts: str) -> str:
        """The object key `prefix/a/b` inside the bucket ("" for its root)."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p and p.strip("/"))

    def uri(self, *parts: str, scheme: str = "s3") -> str:
        """`s3://bucket/a/b` (or `s3a://` for Spark) inside the lakehouse bucket."""
        key = self.key(*parts)
        return f"{scheme}://{self.bucket}/{key}" if key else f"{scheme}://{self.bucket}"


class KafkaSettings(BaseSettings):
    model_config = _config("KAFKA_")

    bootstrap_servers: str = "127.0.0.1:9092"
    ticks_topic: str = "stock-ticks"

    @property
    def host(self) -> str:
        return self.bootstrap_servers.split(",")[0].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.bootstrap_servers.split(",")[0].rsplit(":", 1)[1])


class MarketSettings(BaseSettings):
    """The ticker universe: what the simulator emits and what the stream accepts."""

    model_config = _config("MARKET_")

    # Comma-separated symbols; each must be in stock_lakehouse.ticks.DEFAULT_UNIVERSE or be
    # given a profile by the simulator. A tick for any other symbol is quarantined.
    tickers: str = ",".join(DEFAULT_TICKERS)
    # The exchange whose sessions (opens, closes, holidays, early closes) the platform follows:
    # any exchange_calendars code (XNYS New York, XLON London, ...); see market_calendar.py.
    calendar: str = DEFAULT_CALENDAR
    # A tick whose event time is before this date, more than max_event_age_days before its Kafka
    # timestamp, or more than max_event_lead_minutes after it (or after the stream's clock) is
    # quarantined as implausible_event_time: 1e20 or epoch milliseconds must never become a
    # partition of raw_ticks.
    earliest_event_date: date = EventTimeBounds.earliest_date
    max_event_age_days: float = Field(default=EventTimeBounds.max_age_days, gt=0)
    max_event_lead_minutes: float = Field(default=EventTimeBounds.max_lead_minutes, ge=0)

    @property
    def event_time_bounds(self) -> EventTimeBounds:
        return EventTimeBounds(
            self.earliest_event_date, self.max_event_age_days, self.max_event_lead_minutes
        )

    @property
    def ticker_list(self) -> list[str]:
        return [t.strip().upper() for t in self.tickers.split(",") if t.strip()]


class SparkSettings(BaseSettings):
    model_config = _config("SPARK_")

    # local[2] uses both cores of the target machine; `spark://host:7077` runs the same jobs on a
    # standalone cluster (executors fetch the jars through spark.jars).
    master: str = "local[2]"
    driver_memory: str = "2g"
    # Small-batch streams on 2 cores: 200 shuffle partitions made each micro-batch 5-8 s; 2 made it
    # 1-1.6 s on this 2-core machine.
    shuffle_partitions: int = 2
    jars_dir: Path = PROJECT_ROOT / "jars" / "lib" / "spark"


class StreamSettings(BaseSettings):
    """The Kafka -> raw_ticks Structured Streaming job (spark_jobs/stream_ticks.py)."""

    model_config = _config("STREAM_")

    trigger_seconds: float = 5.0
    # Caps one micro-batch: a warm 400k batch took 7 s on 2 cores, so 200k keeps batches short
    # and a SIGTERM is honoured within seconds.
    max_offsets_per_trigger: int = 200_000
    # When little flows, a micro-batch waits for this many new ticks, at most
    # max_batch_delay_seconds (Kafka's minOffsetsPerTrigger / maxTriggerDelay). A batch costs
    # Spark about the same whether it carries 100 ticks or 1,000 (planning, the Delta commit),
    # so a quiet stream runs one every 15 s instead of one per trigger; at 500 ticks/s with a
    # 2-s trigger every batch holds ~1,000 ticks and none waits. 0: a batch on every trigger.
    min_batch_ticks: int = Field(default=500, ge=0)
    max_batch_delay_seconds: float = Field(default=15.0, gt=0)
    starting_offsets: str = "earliest"
    # true: if Kafka deleted offsets the stream never read (retention), the query fails loudly
    # instead of silently skipping them; the supervisor then shows the failure.
    fail_on_data_loss: bool = True
    # Local disk, not S3: Spark's checkpoint log relies on atomic rename, which S3 lacks. On a
    # cluster, point it at HDFS or a shared volume.
    checkpoint_dir: Path = PROJECT_ROOT / ".state" / "checkpoints" / "stream_ticks"
    # The stream merges the small files of today's raw_ticks partition this often (Delta
    # OPTIMIZE, no data change), so the Live page reads a bounded number of files; 0 turns it off.
    live_compaction_minutes: float = 10.0
    # Supervisor: restart a failed stream after 30 s, doubling per failure in a row, at most 10 min.
    restart_backoff_seconds: float = 30.0
    restart_backoff_max_seconds: float = 600.0


class CompactionSettings(BaseSettings):
    """The raw_ticks -> compacted_ticks batch job (spark_jobs/compact_ticks.py)."""

    model_config = _config("COMPACTION_")

    # 128 MiB: a day of 5M ticks (~150 MB of raw Parquet) becomes one or two files whose row
    # groups stay large enough for fast scans, instead of thousands of micro-batch files.
    target_file_mb: int = 128
    # duckdb: DuckDB sorts the day and delta-rs commits it, on this machine (7-8x faster than
    # Spark on 2 cores, docs/benchmarks.md); spark: spark_jobs/compact_ticks.py on SPARK_MASTER;
    # auto: duckdb for a local[*] master, spark for a cluster.
    engine: Literal["auto", "duckdb", "spark"] = "auto"
    # DuckDB spills the day's sort to STOCK_LAKEHOUSE_STATE_DIR/duckdb-spill beyond this.
    duckdb_memory_limit: str = "4GB"
    # A day with ticks outside its MARKET_CALENDAR session: refuse keeps its previous compacted
    # version and fails the blocking check; warn publishes it with a warning (a feed that trades
    # around the clock, such as the demo's live simulator).
    outside_session: Literal["refuse", "warn"] = "refuse"

    def engine_for(self, spark_master: str) -> Literal["duckdb", "spark"]:
        """The engine that runs: `auto` picks DuckDB unless Spark has a cluster to spread over."""
        if self.engine != "auto":
            return self.engine
        return "duckdb" if spark_master.startswith("local") else "spark"


class VacuumSettings(BaseSettings):
    """The nightly VACUUM of raw, quarantine and compacted (stock_lakehouse/vacuum.py)."""

    model_config = _config("VACUUM_")

    # A file removed from a table (merged by the live compaction, replaced by a compaction) or
    # written by a killed job is deleted this long after; readers that pin a version (time
    # travel, compaction's read of raw) work that long. Delta's own default: 7 days.
    retention_hours: int = Field(default=168, ge=1)


class MartsSettings(BaseSettings):
    """Where dbt builds the marts (DuckDB) and where readers find the last published copy.

    dbt writes only `build_db`; after each successful run it is copied and atomically renamed to
    `published_db`, which the dashboard opens read-only: a reader never meets a writer's lock.
    """

    model_config = _config("MARTS_")

    build_db: Path = PROJECT_ROOT / ".state" / "marts" / "build" / "marts.duckdb"
    published_db: Path = PROJECT_ROOT / ".state" / "marts" / "marts.duckdb"
    # A closed session's daily marts must be built this long after its close at the latest
    # (the check closed_days_on_time turns red, and the alerts sensor says so, when one is not).
    deadline_minutes: float = Field(default=30.0, gt=0)

    def dbt_env(self) -> dict[str, str]:
        """Environment dbt's profile reads (dbt_project/profiles.yml)."""
        return {"MARTS_BUILD_DB": str(self.build_db)}


class DashboardSettings(BaseSettings):
    """The Streamlit dashboard (`stock-lakehouse dashboard`): where it listens, how fresh it is."""

    model_config = _config("DASHBOARD_")

    host: str = "127.0.0.1"
    port: int = 8501
    # Marts change when a daily run publishes them (minutes apart): 30 s keeps page switches instant
    # and a newly published day visible half a minute later at most.
    cache_seconds: float = 30.0
    # The Live page re-reads raw_ticks this often without reloading the page; the stream commits a
    # micro-batch every STREAM_TRIGGER_SECONDS, so polling faster shows nothing new.
    live_refresh_seconds: float = 5.0
    # Ground truth of injected events (simulator); default <state dir>/simulator/labels.jsonl.
    labels_file: Path | None = None


class AlertSettings(BaseSettings):
    """Where the `alerts` sensor sends an "open" and a "resolved" notice for each problem."""

    model_config = _config("ALERTS_")

    # JSON POST per notice (Slack-style incoming webhooks, an on-call gateway); empty: none.
    webhook_url: str | None = None
    # One JSON line per notice, always kept; default <state dir>/alerts.jsonl.
    file: Path | None = None


class LocalServicesSettings(BaseSettings):
    """Folders and internal ports of the servers `stock-lakehouse services up` runs on 127.0.0.1.

    The client-facing ports are not repeated here: the broker listens on the port of
    KAFKA_BOOTSTRAP_SERVERS and the S3 store on the port of S3_ENDPOINT_URL, so the two can never
    disagree. A non-loopback endpoint means an external service, which `services up` leaves alone.
    """

    model_config = _config("STOCK_LAKEHOUSE_")

    # false: Kafka and the S3 store run elsewhere (docker/compose.yml, a cluster, AWS) and
    # `services up` / `down` leave them alone; `status` still probes them.
    managed: bool = True
    state_dir: Path = PROJECT_ROOT / ".state"
    kafka_jars_dir: Path = PROJECT_ROOT / "jars" / "lib" / "kafka"
    kafka_controller_port: int = 9093
    dagster_port: int = 3000
    kafka_heap: str = "512m"
    # SeaweedFS also listens on each port + 10000 for gRPC.
    seaweed_master_port: int = 9333
    seaweed_volume_port: int = 9340
    seaweed_filer_port: int = 8888
    # The output of every server started here (Kafka, SeaweedFS, Dagster, the dashboard) goes to
    # <state dir>/.../<name>.log, rotated past log_max_mb with log_backups older files kept (.1,
    # .2, ...); Kafka clients' own warnings go to <state dir>/logs/kafka-clients.log alike.
    log_max_mb: float = Field(default=20.0, gt=0)
    log_backups: int = Field(default=3, ge=0)


class Settings(BaseModel):
    """All settings; build it through `get_settings()` so it is read once per process."""

    s3: S3Settings = Field(default_factory=S3Settings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    market: MarketSettings = Field(default_factory=MarketSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    compaction: CompactionSettings = Field(default_factory=CompactionSettings)
    vacuum: VacuumSettings = Field(default_factory=VacuumSettings)
    marts: MartsSettings = Field(default_factory=MartsSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    local: LocalServicesSettings = Field(default_factory=LocalServicesSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)


class InvalidSettings(UserFacingError):
    """A value in the environment or .env that a setting cannot take, named by its variable."""


def _variable(error: dict, title: str) -> str:
    """COMPACTION_ENGINE for error loc ('engine',) of CompactionSettings: the name people set."""
    for field in Settings.model_fields.values():
        group = field.default_factory
        if isinstance(group, type) and group.__name__ == title:
            prefix = group.model_config.get("env_prefix", "")
            return f"{prefix}{error['loc'][0]}".upper() if error["loc"] else title
    return ".".join(str(part) for part in error["loc"]) or title


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read once per process; a bad value is one line naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable(e, exc.title)}={e.get('input')!r}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidSettings(
            f"invalid setting {problems} - fix it in the environment or .env "
            "(.env.example documents every variable)"
        ) from None
