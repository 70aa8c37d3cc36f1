"""Assemble and run the local stack in dependency order."""

import importlib.util
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pymongo import MongoClient

from narrative_devstack.processes import ManagedProcess, StackError

REPO_ROOT = Path(__file__).resolve().parents[4]
TRAEFIK_DYNAMIC_CONFIG = REPO_ROOT / "services" / "gateway" / "traefik" / "dynamic.yml"

# Service name, its Python package, and the module that uvicorn serves.
SERVICES = {
    "gateway": "narrative_gateway",
    "datasets": "narrative_datasets",
    "training": "narrative_training",
    "inference": "narrative_inference",
    "analysis": "narrative_analysis",
}
PORT_NAMES = (
    "mongodb",
    "redis",
    "s3",
    "s3_master",
    "s3_volume",
    "s3_filer",
    "traefik",
    "traefik_metrics",
    "gateway",
    "datasets",
    "training",
    "training_worker",
    "inference",
    "analysis",
)
DEFAULT_PORTS = {
    "mongodb": 27017,
    "redis": 6380,
    "s3": 8333,
    "s3_master": 9333,
    "s3_volume": 8080,
    "s3_filer": 8888,
    "traefik": 8000,
    "traefik_metrics": 8082,
    "gateway": 8001,
    "datasets": 8010,
    "training": 8020,
    "training_worker": 8021,
    "inference": 8030,
    "analysis": 8040,
}
HOST = "127.0.0.1"


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


# Ports are drawn below Linux's default ephemeral range (32768 and up), so an
# outgoing connection cannot take a port between its choice and its use.
# SeaweedFS also binds port + 10000 for gRPC, which stays below it too.
PORT_RANGE = (10000, 22700)


def free_ports(count: int) -> list[int]:
    """Pick distinct ports that are free now, together with port + 10000."""
    chosen: list[int] = []
    generator = random.Random()
    for _ in range(count * 200):
        if len(chosen) == count:
            return chosen
        port = generator.randrange(*PORT_RANGE)
        if port in chosen or port + 10000 in chosen:
            continue
        if _port_is_free(port) and _port_is_free(port + 10000):
            chosen.append(port)
    raise StackError(f"could not find {count} free ports in {PORT_RANGE}")


@dataclass
class StackConfig:
    """Data folder and loopback ports of one stack."""

    data_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    internal_token: str = field(default_factory=lambda: secrets.token_hex(32))
    environment: str = "development"
    services: tuple[str, ...] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, data_dir: Path, **kwargs) -> "StackConfig":
        ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
        return cls(data_dir=data_dir, ports=ports, **kwargs)

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    def env(self) -> dict[str, str]:
        """Return the settings every service process reads."""
        return {
            "ENVIRONMENT": self.environment,
            "LOG_FORMAT": "json",
            "MONGODB_URI": f"mongodb://{HOST}:{self.ports['mongodb']}",
            "MONGODB_DATABASE": "narrative_modeling",
            "REDIS_URL": f"redis://{HOST}:{self.ports['redis']}/0",
            "S3_ENDPOINT_URL": self.url("s3"),
            "AWS_ACCESS_KEY_ID": "narrative",
            "AWS_SECRET_ACCESS_KEY": "narrative-secret",
            "AWS_REGION": "us-east-1",
            "INTERNAL_TOKEN": self.internal_token,
            "GATEWAY_URL": self.url("gateway"),
            "DATASETS_URL": self.url("datasets"),
            "TRAINING_URL": self.url("training"),
            "INFERENCE_URL": self.url("inference"),
            "ANALYSIS_URL": self.url("analysis"),
            "TRAINING_WORKER_METRICS_PORT": str(self.ports["training_worker"]),
            "TRAINING_WORKER_HOST": HOST,
            **self.extra_env,
        }


def available_services(requested: tuple[str, ...] | None = None) -> list[str]:
    """Return the services whose package is installed, in start order."""
    names = list(SERVICES) if requested is None else list(requested)
    found = []
    for name in names:
        module = SERVICES[name]
        if importlib.util.find_spec(module) is None:
            continue
        if importlib.util.find_spec(f"{module}.main") is None:
            continue
        found.append(name)
    return found


def _http_ok(url: str) -> bool:
    return httpx.get(url, timeout=2.0).status_code == 200


def _http_answers(url: str) -> bool:
    return httpx.get(url, timeout=2.0).status_code < 500


def _mongo_ready(uri: str) -> bool:
    client = MongoClient(uri, serverSelectionTimeoutMS=1000)
    try:
        client.admin.command("ping")
        return True
    finally:
        client.close()


def _redis_ready(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=1.0) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(16).startswith(b"+PONG")


def _tool(name: str) -> str:
    """Find a command next to this interpreter first, then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} was not found; run `make install` first")
    return found


class Stack:
    """Start MongoDB, Redis and S3, then the services, then Traefik; stop in reverse."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, ManagedProcess] = {}
        self.services = available_services(config.services)

    # Infrastructure ---------------------------------------------------------

    def _infrastructure(self) -> list[ManagedProcess]:
        config, ports, data = self.config, self.config.ports, self.config.data_dir
        for folder in ("mongodb", "redis", "s3"):
            (data / folder).mkdir(parents=True, exist_ok=True)
        mongodb_uri = f"mongodb://{HOST}:{ports['mongodb']}"
        return [
            ManagedProcess(
                name="mongodb",
                command=[
                    _tool("secantusd-py"),
                    "--host",
                    HOST,
                    "--port",
                    str(ports["mongodb"]),
                    "--storage-path",
                    str(data / "mongodb"),
                    "--log-level",
                    "WARNING",
                ],  # fmt: skip
                log_path=config.log_dir / "mongodb.log",
                ready=lambda: _mongo_ready(mongodb_uri),
            ),
            ManagedProcess(
                name="redis",
                command=[
                    _tool("redis-server"),
                    "--bind",
                    HOST,
                    "--port",
                    str(ports["redis"]),
                    "--dir",
                    str(data / "redis"),
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                    "--protected-mode",
                    "yes",
                ],  # fmt: skip
                log_path=config.log_dir / "redis.log",
                ready=lambda: _redis_ready(ports["redis"]),
            ),
            ManagedProcess(
                name="s3-storage",
                command=[
                    _tool("weed"),
                    "server",
                    f"-ip={HOST}",
                    f"-ip.bind={HOST}",
                    f"-dir={data / 's3'}",
                    f"-master.port={ports['s3_master']}",
                    f"-volume.port={ports['s3_volume']}",
                    "-filer",
                    f"-filer.port={ports['s3_filer']}",
                    f"-filer.localSocket={data / 's3' / 'filer.sock'}",
                    "-volume.max=0",
                    "-master.volumeSizeLimitMB=256",
                    "-master.telemetry=false",
                ],  # fmt: skip
                log_path=config.log_dir / "s3-storage.log",
                ready=lambda: _http_answers(f"{config.url('s3_filer')}/"),
                # SeaweedFS 4.48 took 10 to 25 s to exit on SIGTERM here. Its
                # volumes are append-only files it checks at start, so the
                # kill after 8 s is taken as safe for a local stack.
                # NOTE: not verified against a write in flight at the kill.
                stop_timeout_seconds=8.0,
            ),
        ]

    def _s3_gateway(self) -> ManagedProcess:
        config, ports = self.config, self.config.ports
        # The S3 gateway runs apart from `weed server` because only `weed s3`
        # honours port 0 for the Iceberg and Lance catalogs it would otherwise
        # open on fixed ports (SeaweedFS 4.48).
        return ManagedProcess(
            name="s3",
            command=[
                _tool("weed"),
                "s3",
                f"-ip.bind={HOST}",
                f"-port={ports['s3']}",
                f"-filer={HOST}:{ports['s3_filer']}",
                "-port.iceberg=0",
                "-port.lance=0",
            ],  # fmt: skip
            log_path=config.log_dir / "s3.log",
            ready=lambda: _http_ok(f"{config.url('s3')}/healthz"),
        )

    # Services ---------------------------------------------------------------

    def _service(self, name: str) -> ManagedProcess:
        port = self.config.ports[name]
        return ManagedProcess(
            name=name,
            command=[
                sys.executable,
                "-m",
                "uvicorn",
                f"{SERVICES[name]}.main:app",
                "--host",
                HOST,
                "--port",
                str(port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "20",
            ],  # fmt: skip
            env=self.config.env(),
            log_path=self.config.log_dir / f"{name}.log",
            ready=lambda: _http_ok(f"{self.config.url(name)}/health"),
        )

    def _training_worker(self) -> ManagedProcess:
        return ManagedProcess(
            name="training-worker",
            command=[sys.executable, "-m", "narrative_training.worker"],
            env=self.config.env(),
            log_path=self.config.log_dir / "training-worker.log",
            ready=lambda: _http_ok(f"{self.config.url('training_worker')}/health"),
        )

    def _traefik(self) -> ManagedProcess:
        ports = self.config.ports
        access_log = self.config.log_dir / "traefik-access.log"
        return ManagedProcess(
            name="traefik",
            command=[
                _tool("traefik"),
                f"--entryPoints.web.address={HOST}:{ports['traefik']}",
                "--entryPoints.web.transport.respondingTimeouts.readTimeout=600s",
                "--entryPoints.web.transport.respondingTimeouts.writeTimeout=600s",
                f"--entryPoints.metrics.address={HOST}:{ports['traefik_metrics']}",
                f"--providers.file.filename={TRAEFIK_DYNAMIC_CONFIG}",
                "--providers.file.watch=false",
                "--metrics.prometheus=true",
                "--metrics.prometheus.entryPoint=metrics",
                "--metrics.prometheus.addRoutersLabels=true",
                "--metrics.prometheus.buckets=0.001,0.0025,0.005,0.01,0.025,0.05,"
                "0.1,0.25,0.5,1,2.5,5,10",
                "--ping=true",
                "--ping.entryPoint=metrics",
                "--accessLog=true",
                f"--accessLog.filePath={access_log}",
                "--accessLog.format=json",
                "--accessLog.bufferingSize=100",
                "--accessLog.fields.headers.names.X-Request-Id=keep",
                "--log.level=WARN",
                "--log.format=json",
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
            ],
            env=self.config.env(),
            log_path=self.config.log_dir / "traefik.log",
            ready=lambda: _http_ok(f"{self.config.url('traefik')}/health"),
        )

    # Lifecycle --------------------------------------------------------------

    def _start_group(self, group: list[ManagedProcess], timeout_seconds: float) -> None:
        for process in group:
            self.processes[process.name] = process
            process.start()
        for process in group:
            process.wait_ready(timeout_seconds)

    def start_infrastructure(self, on_ready=None) -> "Stack":
        """Start only MongoDB, Redis and S3."""
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_group(self._infrastructure(), 60)
            self._start_group([self._s3_gateway()], 60)
        except BaseException:
            self.stop()
            raise
        _announce(on_ready, "mongodb, redis and s3 are ready")
        return self

    def start(self, on_ready=None) -> "Stack":
        self.start_infrastructure(on_ready)
        try:
            services = [self._service(name) for name in self.services]
            if "training" in self.services:
                services.append(self._training_worker())
            self._start_group(services, 90)
            _announce(
                on_ready, f"services ready: {', '.join(p.name for p in services)}"
            )
            self._start_group([self._traefik()], 30)
            _announce(on_ready, f"traefik ready on {self.config.url('traefik')}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def failed(self) -> list[ManagedProcess]:
        return [p for p in self.processes.values() if p.exited() is not None]

    def restart(self, name: str, timeout_seconds: float = 90) -> None:
        """Stop one process if it still runs, start it again and wait until ready."""
        process = self.processes[name]
        process.stop()
        process.start()
        process.wait_ready(timeout_seconds)

    def api_key(self, user: str, role: str = "user") -> str:
        """Create an API key for a user through the gateway's own command."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "narrative_gateway.keys",
                "create",
                "--user",
                user,
                "--role",
                role,
            ],
            env={**os.environ, **self.config.env()},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"creating an API key failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _announce(callback, message: str) -> None:
    if callback is not None:
        callback(message)
