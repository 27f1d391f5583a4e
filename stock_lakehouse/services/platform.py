"""The application processes of `make demo`: Dagster webserver and daemon, and the live simulator.

They run like the servers in services/ (PID files, logs under the state folder, stop by PID). The
stream itself is not started here: the daemon's stream_supervisor sensor launches ingest_stream,
so the demo exercises the same supervision a deployment relies on.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from stock_lakehouse.clients.dagster_instance import dagster_env, dagster_instance
from stock_lakehouse.log_rotation import LogRotation
from stock_lakehouse.run_tags import STOPPED_BY_PLATFORM_TAG
from stock_lakehouse.services.process import ManagedProcess
from stock_lakehouse.settings import PROJECT_ROOT, Settings

BIN = Path(sys.executable).parent


class DagsterService:
    name = "dagster"

    def __init__(self, settings: Settings, extra_env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.home = settings.local.state_dir / "dagster-processes"
        port = settings.local.dagster_port
        self.env = {**dagster_env(settings), **(extra_env or {})}
        env = self.env
        workspace = str(PROJECT_ROOT / "workspace.yaml")
        self.webserver = ManagedProcess(
            rotation=LogRotation.from_settings(settings),
            name="dagster-webserver",
            command=[
                str(BIN / "dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                workspace,
            ],
            run_dir=self.home,
            ports=[port],
            healthy=lambda: _http_ok(f"http://127.0.0.1:{port}/server_info"),
            env=env,
            # Not the checkout: Dagster loads ./.env over the environment, and a test or an
            # operator's S3_ENDPOINT_URL must win over .env's.
            cwd=self.home,
            start_timeout=120,
        )
        self.daemon = ManagedProcess(
            rotation=LogRotation.from_settings(settings),
            name="dagster-daemon",
            command=[str(BIN / "dagster-daemon"), "run", "-w", workspace],
            run_dir=self.home,
            ports=[],
            healthy=lambda: self.daemon.is_running(),
            env=env,
            cwd=self.home,
        )

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.local.dagster_port}"

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.webserver, self.daemon]

    def start(self) -> None:
        Path(self.env["DAGSTER_STORAGE_DIR"]).mkdir(parents=True, exist_ok=True)
        for process in self.processes:
            process.start()

    def stop(self) -> bool:
        """End the stream runs first (while the daemon's code servers can still reach them)."""
        if self.daemon.is_running():
            stop_stream_runs(self.settings)
        return any([self.daemon.stop(), self.webserver.stop()])

    def healthy(self) -> bool:
        return all(p.is_running() for p in self.processes) and self.reachable()

    def reachable(self) -> bool:
        return _http_ok(f"{self.address}/server_info")


DASHBOARD_APP = PROJECT_ROOT / "stock_lakehouse" / "dashboard" / "app.py"


def dashboard_command(settings: Settings) -> list[str]:
    """`streamlit run` of the dashboard on DASHBOARD_HOST:PORT, headless and without telemetry."""
    dashboard = settings.dashboard
    return [
        str(BIN / "streamlit"),
        "run",
        str(DASHBOARD_APP),
        "--server.address",
        dashboard.host,
        "--server.port",
        str(dashboard.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # A dashboard for readers: no "Deploy" button or developer menu.
        "--client.toolbarMode",
        "viewer",
        # The app is the package: no need to watch its files for edits outside development.
        "--server.fileWatcherType",
        "none",
    ]


class DashboardService:
    """The Streamlit dashboard as a background process (for `make demo`)."""

    name = "dashboard"

    def __init__(self, settings: Settings, extra_env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.process = ManagedProcess(
            rotation=LogRotation.from_settings(settings),
            name="dashboard",
            command=dashboard_command(settings),
            run_dir=settings.local.state_dir / "dashboard",
            ports=[settings.dashboard.port],
            healthy=lambda: _http_ok(f"{self.address}/_stcore/health"),
            env=extra_env or {},
            cwd=PROJECT_ROOT,
        )

    @property
    def address(self) -> str:
        return f"http://{self.settings.dashboard.host}:{self.settings.dashboard.port}"

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.process]

    def start(self) -> None:
        self.process.start()

    def stop(self) -> bool:
        return self.process.stop()

    def healthy(self) -> bool:
        return self.process.is_running() and self.reachable()

    def reachable(self) -> bool:
        return _http_ok(f"{self.address}/_stcore/health")


class SimulatorService:
    """The simulator in --live mode, producing ticks stamped now until stopped."""

    name = "simulator"

    def __init__(self, settings: Settings, rate: float = 20.0) -> None:
        self.settings = settings
        self.process = ManagedProcess(
            rotation=LogRotation.from_settings(settings),
            name="simulator-live",
            command=[str(BIN / "stock-lakehouse"), "simulate", "--live", "--rate", str(rate)],
            run_dir=settings.local.state_dir / "simulator",
            ports=[],
            healthy=lambda: self.process.is_running(),
            cwd=PROJECT_ROOT,
        )

    @property
    def address(self) -> str:
        return f"-> {self.settings.kafka.ticks_topic}"

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.process]

    def start(self) -> None:
        self.process.start()

    def stop(self) -> bool:
        return self.process.stop()

    def healthy(self) -> bool:
        return self.process.is_running()

    def reachable(self) -> bool:
        return self.process.is_running()


def stop_stream_runs(settings: Settings, timeout: float = 150) -> list[str]:
    """Terminate in-progress ingest_stream runs and wait for them; tag them so the supervisor
    restarts them at the next `demo up` (a run a person terminates stays stopped)."""
    import dagster as dg

    with dagster_instance(settings) as instance:
        runs = instance.get_runs(
            filters=dg.RunsFilter(
                job_name="ingest_stream",
                statuses=[
                    dg.DagsterRunStatus.QUEUED,
                    dg.DagsterRunStatus.STARTING,
                    dg.DagsterRunStatus.STARTED,
                ],
            )
        )
        for run in runs:
            instance.add_run_tags(run.run_id, {STOPPED_BY_PLATFORM_TAG: "platform-down"})
            if run.status == dg.DagsterRunStatus.QUEUED:
                instance.report_run_canceled(run)
            else:
                instance.run_launcher.terminate(run.run_id)
        deadline = time.monotonic() + timeout
        pending = [run.run_id for run in runs]
        while pending and time.monotonic() < deadline:
            pending = [r for r in pending if not instance.get_run_by_id(r).is_finished]
            time.sleep(1)
        return [run.run_id for run in runs]


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
