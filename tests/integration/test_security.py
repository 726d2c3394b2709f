"""Security on a real broker: TLS through a terminating proxy, and secrets kept out of sight.

The embedded broker has no TLS listener, so a small asyncio proxy terminates TLS in front
of it with a certificate from a test CA made at test time (openssl CLI), and the broker
advertises the proxy's port so every client connection goes through TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stream.broker import EmbeddedBroker, free_port
from stream.config import Settings
from stream.errors import BrokerUnavailable
from stream.kafka_io import build_admin, build_consumer, ensure_topics
from stream.produce import publish
from tests.integration.harness import Topics, article, start_service


@dataclass(frozen=True)
class Pki:
    """A test CA, a server certificate for 127.0.0.1 and a few wrong ones."""

    ca: Path
    other_ca: Path
    server_cert: Path
    server_key: Path
    wrong_host_cert: Path
    wrong_host_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "2", "-subj", f"/CN={name}")
    return key, cert


def _server(directory: Path, name: str, san: str, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    key, csr, cert = (directory / f"{name}.key", directory / f"{name}.csr",
                      directory / f"{name}.pem")
    ext = directory / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
             "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]),
             "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates made now, valid two days, never written outside the test's tmp dir."""
    directory = tmp_path_factory.mktemp("pki")
    ca = _ca(directory, "geowire-test-ca")
    _, other = _ca(directory, "some-other-ca")
    cert, key = _server(directory, "broker", "IP:127.0.0.1,DNS:localhost", ca)
    wrong_cert, wrong_key = _server(directory, "elsewhere", "DNS:elsewhere.example", ca)
    return Pki(ca[1], other, cert, key, wrong_cert, wrong_key)


class TlsProxy:
    """Terminates TLS on `port` and forwards the plaintext bytes to `upstream_port`."""

    def __init__(self, cert: Path, key: Path, upstream_port: int) -> None:
        self.port = free_port()
        self._upstream = upstream_port
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tls-proxy", daemon=True)

    def __enter__(self) -> TlsProxy:
        self._thread.start()
        assert self._ready.wait(10), "TLS proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(
            self._client, "127.0.0.1", self.port, ssl=self._context))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer),
                             return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, ssl.SSLError, OSError, RuntimeError):
            writer.close()


@contextlib.contextmanager
def tls_broker(cert: Path, key: Path, log_dir: Path) -> Iterator[str]:
    """An embedded broker reachable only through a TLS proxy; yields the TLS bootstrap."""
    broker = EmbeddedBroker(log_path=log_dir / "tansu.log")
    with TlsProxy(cert, key, broker.port) as proxy:
        broker.advertised_port = proxy.port
        broker.start()
        try:
            yield f"127.0.0.1:{proxy.port}"
        finally:
            broker.stop()


def _ssl_settings(bootstrap: str, cafile: Path, **extra: object) -> Settings:
    return Settings(bootstrap_servers=bootstrap, security_protocol="SSL",
                    ssl_cafile=str(cafile), **extra)  # type: ignore[arg-type]


class TestTls:
    def test_the_service_works_over_tls(
        self, pki: Pki, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """With GEOWIRE_SECURITY_PROTOCOL=SSL and the test CA, events flow through TLS."""
        with tls_broker(pki.server_cert, pki.server_key, log_dir) as bootstrap:
            settings = _ssl_settings(bootstrap, pki.ca)
            topics = Topics.unique()
            ensure_topics(settings, [topics.input, topics.output, topics.dlq], 3)
            service = start_service(bootstrap, topics, tiny_model_dir, log_dir,
                                    GEOWIRE_SECURITY_PROTOCOL="SSL",
                                    GEOWIRE_SSL_CAFILE=str(pki.ca))
            try:
                service.wait_ready()
                sent = [article(f"tls-{i}") for i in range(50)]
                assert publish(settings, sent, topics.input) == 50
                consumer = build_consumer(settings, group_id=None)
                consumer.subscribe([topics.output])
                ids: set[str] = set()
                deadline = time.monotonic() + 60
                while len(ids) < 50 and time.monotonic() < deadline:
                    for records in consumer.poll(timeout_ms=200).values():
                        ids.update(json.loads(r.value)["id"] for r in records)
                consumer.close()
                assert ids == {f"tls-{i}" for i in range(50)}
            finally:
                assert service.stop() == 0

    @pytest.mark.parametrize(("case", "expected"), [
        ("wrong_ca", "unable to get local issuer certificate"),
        ("wrong_host", "certificate is not valid for '127.0.0.1'"),
    ])
    def test_an_untrusted_certificate_is_a_clear_error(
        self, pki: Pki, log_dir: Path, case: str, expected: str
    ) -> None:
        """A CA that did not sign the broker's certificate, or a certificate for another
        host, fails at once with the reason, not after a 30 s "Unable to bootstrap"."""
        cert, key = ((pki.server_cert, pki.server_key) if case == "wrong_ca"
                     else (pki.wrong_host_cert, pki.wrong_host_key))
        cafile = pki.other_ca if case == "wrong_ca" else pki.ca
        with tls_broker(cert, key, log_dir) as bootstrap:
            started = time.monotonic()
            with pytest.raises(BrokerUnavailable, match="certificate was refused") as caught:
                build_admin(_ssl_settings(bootstrap, cafile))
            assert expected in str(caught.value)
            assert time.monotonic() - started < 10

    def test_the_service_exits_with_the_reason_on_a_wrong_ca(
        self, pki: Pki, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """The service logs why TLS failed and exits 1, instead of retrying silently."""
        with tls_broker(pki.server_cert, pki.server_key, log_dir) as bootstrap:
            service = start_service(bootstrap, Topics.unique(), tiny_model_dir, log_dir,
                                    GEOWIRE_SECURITY_PROTOCOL="SSL",
                                    GEOWIRE_SSL_CAFILE=str(pki.other_ca))
            assert service.proc.wait(timeout=60) == 1
            assert "unable to get local issuer certificate" in service.log()

    def test_tls_against_a_plaintext_listener_is_a_clear_error_not_a_hang(
        self, bootstrap: str
    ) -> None:
        """kafka-python's TLS client waits forever on a plaintext listener; geowire names
        the mismatch within seconds."""
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="is this listener plaintext"):
            build_admin(Settings(bootstrap_servers=bootstrap, security_protocol="SSL"))
        assert time.monotonic() - started < 15


class TestSecrets:
    PASSWORD = "Pa55-geowire-SECRET-value"  # noqa: S105 - a marker to search for, not a secret

    def test_a_sasl_password_appears_in_no_log_line_metric_or_error(
        self, bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path
    ) -> None:
        """SASL against a broker without SASL fails to authenticate; the password shows in
        no log line, no /metrics, /healthz or /readyz body and no exit message."""
        service = start_service(bootstrap, topics, tiny_model_dir, log_dir,
                                GEOWIRE_SECURITY_PROTOCOL="SASL_PLAINTEXT",
                                GEOWIRE_SASL_MECHANISM="PLAIN",
                                GEOWIRE_SASL_USERNAME="geowire-svc",
                                GEOWIRE_SASL_PASSWORD=self.PASSWORD,
                                GEOWIRE_LOG_LEVEL="DEBUG",
                                GEOWIRE_BROKER_TIMEOUT_S="15")
        bodies = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and service.proc.poll() is None:
            with contextlib.suppress(OSError):
                bodies += [service.get(path)[1] for path in ("/metrics", "/healthz", "/readyz")]
            time.sleep(0.5)
        code = service.stop(timeout_s=90)
        log = service.log()
        assert bodies, "the metrics server never answered"
        assert "geowire-svc" in log or "sasl" in log.lower(), "the settings were not logged"
        assert self.PASSWORD not in log
        assert all(self.PASSWORD not in body for body in bodies)
        assert code in (0, 1)
