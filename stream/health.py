"""Liveness and readiness state, served with the metrics on /healthz, /readyz, /metrics."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from stream.metrics import render

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


@dataclass
class ServiceState:
    """What the loop reports about itself; read by the HTTP handlers."""

    stuck_after_s: float
    model_loaded: bool = False
    broker_connected: bool = False
    assigned_partitions: int = 0
    last_turn: float = field(default_factory=time.monotonic)
    stopping: bool = False

    def turned(self) -> None:
        """Record that the loop completed a turn (the /healthz heartbeat)."""
        self.last_turn = time.monotonic()

    def live(self) -> tuple[bool, dict[str, object]]:
        """Alive when the loop turned within `stuck_after_s`."""
        since = time.monotonic() - self.last_turn
        return since < self.stuck_after_s, {"seconds_since_loop_turn": round(since, 3)}

    def ready(self) -> tuple[bool, dict[str, object]]:
        """Ready when the model is loaded, a broker connected and partitions assigned."""
        checks: dict[str, object] = {
            "model_loaded": self.model_loaded,
            "broker_connected": self.broker_connected,
            "assigned_partitions": self.assigned_partitions,
            "stopping": self.stopping,
        }
        ok = (
            self.model_loaded
            and self.broker_connected
            and self.assigned_partitions > 0
            and not self.stopping
        )
        return ok, checks


def start_http_server(
    host: str, port: int, state: ServiceState, registry: CollectorRegistry
) -> ThreadingHTTPServer:
    """Serve /metrics, /healthz and /readyz on a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, render(registry), "text/plain; version=0.0.4")
            elif path in ("/healthz", "/readyz"):
                ok, checks = state.live() if path == "/healthz" else state.ready()
                body = json.dumps({"ok": ok, **checks}).encode()
                self._send(200 if ok else 503, body, "application/json")
            else:
                self._send(404, b"not found: try /metrics, /healthz or /readyz\n",
                           "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes every few seconds would drown the service's own logs

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
