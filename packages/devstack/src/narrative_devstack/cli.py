"""`narrative-stack up`: run the local stack until Ctrl-C or SIGTERM."""

import argparse
import signal
import sys
import time
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from narrative_devstack.processes import StackError
from narrative_devstack.stack import DEFAULT_PORTS, Stack, StackConfig

# A process that crashes is started again at most this often, so a service
# that cannot start does not spin.
MAX_RESTARTS_PER_10_MINUTES = 5


class StackSettings(BaseSettings):
    """Settings of the local stack: `STACK_DATA_DIR`, `STACK_PORT_<NAME>` and so on."""

    model_config = SettingsConfigDict(
        env_prefix="STACK_", env_file=".env", extra="ignore"
    )

    data_dir: Path = Path("var")
    port_mongodb: int = DEFAULT_PORTS["mongodb"]
    port_redis: int = DEFAULT_PORTS["redis"]
    port_s3: int = DEFAULT_PORTS["s3"]
    port_s3_master: int = DEFAULT_PORTS["s3_master"]
    port_s3_volume: int = DEFAULT_PORTS["s3_volume"]
    port_s3_filer: int = DEFAULT_PORTS["s3_filer"]
    port_traefik: int = DEFAULT_PORTS["traefik"]
    port_traefik_metrics: int = DEFAULT_PORTS["traefik_metrics"]
    port_gateway: int = DEFAULT_PORTS["gateway"]
    port_datasets: int = DEFAULT_PORTS["datasets"]
    port_training: int = DEFAULT_PORTS["training"]
    port_training_worker: int = DEFAULT_PORTS["training_worker"]
    port_inference: int = DEFAULT_PORTS["inference"]
    port_analysis: int = DEFAULT_PORTS["analysis"]
    internal_token: str = "development-internal-token"

    def stack_config(self) -> StackConfig:
        ports = {name: getattr(self, f"port_{name}") for name in DEFAULT_PORTS}
        return StackConfig(
            data_dir=self.data_dir.resolve(),
            ports=ports,
            internal_token=self.internal_token,
        )


def _say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


class _Stop(Exception):
    pass


def _raise_stop(signum, _frame) -> None:
    raise _Stop(signal.Signals(signum).name)


def supervise(stack: Stack) -> None:
    """Restart crashed processes until a signal arrives."""
    restarts: dict[str, list[float]] = {}
    while True:
        time.sleep(1)
        for process in stack.failed():
            now = time.monotonic()
            recent = [t for t in restarts.get(process.name, []) if now - t < 600]
            if len(recent) >= MAX_RESTARTS_PER_10_MINUTES:
                continue
            _say(
                f"{process.name} exited with code {process.exited()}; restarting "
                f"(log: {process.log_path})"
            )
            restarts[process.name] = [*recent, now]
            try:
                stack.restart(process.name)
            except StackError as exc:
                _say(str(exc))


def up(settings: StackSettings) -> int:
    config = settings.stack_config()
    stack = Stack(config)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        _say(f"data under {config.data_dir}, logs under {config.log_dir}")
        stack.start(on_ready=_say)
        _say(f"gateway: {config.url('traefik')}  (docs: {config.url('traefik')}/docs)")
        _say("create a key with `make api-key USER=<name>`; Ctrl-C stops everything")
        supervise(stack)
    except _Stop as stop:
        _say(f"{stop}: stopping")
    except StackError as exc:
        _say(f"failed to start: {exc}")
        stack.stop()
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        _say("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="narrative-stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the stack and supervise it until Ctrl-C")
    sub.add_parser("env", help="print the settings the services get, as KEY=VALUE")
    args = parser.parse_args(argv)
    settings = StackSettings()
    if args.command == "env":
        for key, value in settings.stack_config().env().items():
            print(f"{key}={value}")
        return 0
    return up(settings)


if __name__ == "__main__":
    sys.exit(main())
