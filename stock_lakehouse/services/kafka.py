"""A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM).

Runs from the jars `make jars` copies to jars/lib/kafka; data and logs live under the state folder,
so the broker keeps its topics and committed offsets across `services down` / `up`.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from stock_lakehouse.clients.kafka import broker_answers
from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.log_rotation import LogRotation
from stock_lakehouse.prerequisites import require_jars, require_java
from stock_lakehouse.services.process import ManagedProcess, tail
from stock_lakehouse.settings import Settings

LOG4J2_YAML = """\
Configuration:
  name: stock-lakehouse-kafka
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: state.change.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: WARN
"""


def server_properties(port: int, controller_port: int, data_dir: Path) -> str:
    """server.properties of a combined broker+controller bound to 127.0.0.1 only."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        # `format --standalone` needs the bootstrap form; it refuses controller.quorum.voters.
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "log.dirs": str(data_dir),
        "num.partitions": "3",
        # One broker: every internal topic must accept a replication factor and min ISR of 1.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # Consumers in tests and the stream join at once instead of waiting 3 s for a rebalance.
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, never starting '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaService:
    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.local.state_dir / "kafka"
        self.data_dir = self.home / "data"
        self.jars = settings.local.kafka_jars_dir
        self.port = settings.kafka.port
        self.controller_port = settings.local.kafka_controller_port
        self.process = ManagedProcess(
            rotation=LogRotation.from_settings(settings),
            name=self.name,
            command=[
                "java",
                f"-Xmx{settings.local.kafka_heap}",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
                f"-Dkafka.logs.dir={self.home}",
                "-cp",
                f"{self.jars}/*",
                "kafka.Kafka",
                str(self.home / "server.properties"),
            ],
            run_dir=self.home,
            ports=[self.port, self.controller_port],
            healthy=lambda: broker_answers(settings.kafka.bootstrap_servers),
            stop_timeout=30.0,
        )

    @property
    def address(self) -> str:
        return self.settings.kafka.bootstrap_servers

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.process]

    def start(self) -> None:
        if self.process.is_running():
            self.process.wait_healthy()
            return
        require_java()
        require_jars(self.jars, "kafka_2.13-*.jar", "Kafka")
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(
            server_properties(self.port, self.controller_port, self.data_dir)
        )
        (self.home / "log4j2.yaml").write_text(LOG4J2_YAML)
        self._format_storage_once()
        self.process.start()

    def _format_storage_once(self) -> None:
        """Format the log dir on first start; later starts keep their topics and offsets."""
        if (self.data_dir / "meta.properties").exists():
            return
        result = subprocess.run(
            [
                "java",
                "-cp",
                f"{self.jars}/*",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "--ignore-formatted",
                "-t",
                new_cluster_id(),
                "-c",
                str(self.home / "server.properties"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            log = self.home / "format.log"
            log.write_text(result.stdout + result.stderr)
            raise UserFacingError(
                f"formatting Kafka storage in {self.data_dir} failed - see {log}",
                detail=tail(log),
            )

    def stop(self) -> bool:
        return self.process.stop()

    def healthy(self) -> bool:
        return self.process.is_running() and self.reachable()

    def reachable(self) -> bool:
        return broker_answers(self.address)
