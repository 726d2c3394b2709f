"""`geowire serve`: settings → logging → model → metrics server → loop → exit code."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from types import FrameType

import sklearn
from prometheus_client import CollectorRegistry, disable_created_metrics

from model import INVALID_REASONS, ArtifactError, Classifier, load_model
from stream.batch_worker import BatchWorker, InlineWorker, ProcessWorker, WorkerFailed
from stream.broker import EmbeddedBroker
from stream.config import Settings, build_parser
from stream.errors import BrokerUnavailable, ConfigError
from stream.health import ServiceState, start_http_server
from stream.kafka_io import ensure_topics
from stream.logs import configure_logging
from stream.metrics import Metrics, build_metrics
from stream.service import Service
from stream.transactions import ProducerFenced

logger = logging.getLogger("stream")
DESCRIPTION = """\
Run the classifier service: consume article events from the input topic, label each
with topics and countries, produce the enriched event to the output topic (bad input
goes to the dead-letter topic with the reason), and commit offsets only after the
outputs are acknowledged (at-least-once; exactly-once with --delivery).
Serves /metrics, /healthz and /readyz.
SIGTERM or SIGINT finishes the current batch, commits and exits 0.
Exit codes: 0 stopped cleanly, 1 model or broker failure (or fenced by another
instance in exactly-once mode), 2 bad configuration."""


def load_settings(
    parser: argparse.ArgumentParser, argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[Settings, argparse.Namespace]:
    """Parse a command's flags into settings; prints usage and exits 2 when they're bad."""
    namespace = parser.parse_args(list(argv))
    try:
        return Settings.from_namespace(environ, namespace), namespace
    except ConfigError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


def serve(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run the service until a signal stops it; returns the process exit code."""
    parser = build_parser("geowire serve", DESCRIPTION)
    settings, _ = load_settings(parser, argv, environ)
    configure_logging(settings.log_level, settings.log_format, [settings.sasl_password])
    if not settings.bootstrap_servers and not settings.embedded_broker:
        print(
            "geowire serve: error: no Kafka brokers configured: set "
            "GEOWIRE_BOOTSTRAP_SERVERS (or --bootstrap-servers), or pass "
            "--embedded-broker to run a private in-memory broker for a demo",
            file=sys.stderr,
        )
        return 2
    logger.info("starting", extra={"settings": settings.redacted()})
    try:
        classifier = load_model(settings.model_path)
    except ArtifactError as exc:
        logger.error("cannot load the model", extra={"error": str(exc)})
        return 1
    logger.info("model loaded", extra={"model_version": classifier.manifest.version})
    with ExitStack() as stack:
        if settings.embedded_broker and not settings.bootstrap_servers:
            broker = EmbeddedBroker()
            broker.start()
            stack.callback(broker.stop)
            settings = replace(settings, bootstrap_servers=broker.bootstrap, create_topics=True)
        return _run(settings, classifier, stack)
    return 0  # pragma: no cover - the with block always returns


def _run(settings: Settings, classifier: Classifier, stack: ExitStack) -> int:
    disable_created_metrics()
    registry = CollectorRegistry()
    metrics = build_metrics(registry, classifier.labels, INVALID_REASONS)
    _describe_model(metrics, classifier)
    state = ServiceState(stuck_after_s=settings.stuck_after_s, model_loaded=True)
    if settings.metrics_port:
        server = start_http_server(settings.metrics_host, settings.metrics_port, state, registry)
        stack.callback(server.shutdown)
        logger.info("serving /metrics, /healthz, /readyz",
                    extra={"address": f"http://{settings.metrics_host}:{settings.metrics_port}"})
    try:
        worker = _start_worker(settings, classifier, stack)
    except WorkerFailed as exc:
        logger.error("cannot start the classification worker", extra={"error": str(exc)})
        return 1
    service = Service(settings, classifier, metrics, state, worker=worker)
    _install_signal_handlers(service)
    try:
        if settings.create_topics:
            _create_topics(settings)
        service.run()
    except BrokerUnavailable as exc:
        logger.error("giving up on the broker", extra={"error": str(exc)})
        return 1
    except WorkerFailed as exc:
        # Nothing of the batch it held was committed: a restart reads it again.
        logger.error("classification worker failed", extra={"error": str(exc)})
        return 1
    except ProducerFenced as exc:
        # Fencing is final for this producer: exiting lets the orchestrator restart the
        # instance (or tells the operator two instances share a slot) instead of fighting.
        logger.error("fenced by another instance", extra={"error": str(exc)})
        return 1
    return 0


def _create_topics(settings: Settings) -> None:
    names = [settings.input_topic, settings.output_topic, settings.dlq_topic]
    created = ensure_topics(settings, names, settings.topic_partitions)
    if created:
        logger.info("created topics", extra={"topics": ",".join(created),
                                              "partitions": settings.topic_partitions})


def _start_worker(settings: Settings, classifier: Classifier, stack: ExitStack) -> BatchWorker:
    if not settings.worker_process:
        return InlineWorker(classifier)
    worker = ProcessWorker(settings.model_path, classifier.manifest.sha256)
    stack.callback(worker.close)
    return worker


def _describe_model(metrics: Metrics, classifier: Classifier) -> None:
    manifest = classifier.manifest
    metrics.model_info.info(
        {
            "name": manifest.name,
            "version": manifest.version,
            "sha256": manifest.sha256[:16],
            "sklearn_version": sklearn.__version__,
        }
    )


def _install_signal_handlers(service: Service) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        logger.info("stop requested; finishing the current batch",
                    extra={"signal": signal.Signals(signum).name})
        service.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def main() -> None:
    """Entry point for `python -m stream`."""
    sys.exit(serve(sys.argv[1:], os.environ))


if __name__ == "__main__":
    main()
