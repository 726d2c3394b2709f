"""`Settings`: the one configuration object, from CLI flags over GEOWIRE_* env over defaults."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from stream.errors import ConfigError

LogFormat = Literal["auto", "console", "json"]
Delivery = Literal["at-least-once", "exactly-once"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
ENV_PREFIX = "GEOWIRE_"


@dataclass(frozen=True)
class Settings:
    """Everything `geowire serve` and its companion commands can be told."""

    bootstrap_servers: str = ""
    embedded_broker: bool = False
    input_topic: str = "articles"
    output_topic: str = "articles.enriched"
    dlq_topic: str = "articles.dlq"
    group_id: str = "geowire"
    client_id: str = ""
    model_path: str = "artifacts/model"
    metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped from other hosts by design
    metrics_port: int = 9108
    batch_size: int = 256
    batch_wait_ms: int = 100
    worker_process: bool = True
    max_event_bytes: int = 1_048_576
    log_level: str = "INFO"
    log_format: LogFormat = "auto"
    delivery: Delivery = "at-least-once"
    transactional_id_prefix: str = "geowire"
    instance_slot: int = 0
    broker_timeout_s: float = 0.0
    stuck_after_s: float = 120.0
    create_topics: bool = False
    topic_partitions: int = 6
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    max_poll_interval_ms: int = 60_000
    fetch_max_wait_ms: int = 10
    producer_batch_bytes: int = 262_144
    linger_ms: int = 5
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    ssl_check_hostname: bool = True

    @classmethod
    def load(cls, environ: Mapping[str, str], argv: Sequence[str] = ()) -> Settings:
        """Parse `argv` flags over `environ` GEOWIRE_* variables over defaults.

        Raises:
            ConfigError: naming the variable or flag and the bad value.
        """
        parser = build_parser("geowire serve", "")
        return cls.from_namespace(environ, parser.parse_args(list(argv)))

    @classmethod
    def from_namespace(
        cls, environ: Mapping[str, str], namespace: argparse.Namespace
    ) -> Settings:
        """Build settings from parsed flags (None = not given) and the environment."""
        values: dict[str, Any] = {}
        for option in OPTIONS:
            flag_value = getattr(namespace, option.name, None)
            if flag_value is not None:
                values[option.name] = _convert(option, flag_value, option.flag)
            elif option.env in environ:
                values[option.name] = _convert(option, environ[option.env], option.env)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Check ranges and combinations that no single field can.

        Raises:
            ConfigError: naming the setting and what was expected.
        """
        for name, low in (
            ("batch_size", 1),
            ("batch_wait_ms", 0),
            ("max_event_bytes", 64),
            ("metrics_port", 0),
            ("topic_partitions", 1),
            ("session_timeout_ms", 1000),
            ("heartbeat_interval_ms", 100),
            ("fetch_max_wait_ms", 0),
            ("instance_slot", 0),
        ):
            if getattr(self, name) < low:
                raise ConfigError(
                    f"{_env_name(name)} must be at least {low}, got {getattr(self, name)}"
                )
        if self.metrics_port > 65535:
            raise ConfigError(
                f"GEOWIRE_METRICS_PORT must be at most 65535, got {self.metrics_port}"
            )
        if self.heartbeat_interval_ms * 3 > self.session_timeout_ms:
            raise ConfigError(
                "GEOWIRE_HEARTBEAT_INTERVAL_MS must be at most a third of "
                f"GEOWIRE_SESSION_TIMEOUT_MS, got {self.heartbeat_interval_ms} and "
                f"{self.session_timeout_ms}"
            )
        topics = {self.input_topic, self.output_topic, self.dlq_topic}
        if len(topics) != 3 or "" in topics:
            raise ConfigError(
                "input, output and dead-letter topics must be three different non-empty "
                f"names, got {self.input_topic!r}, {self.output_topic!r}, {self.dlq_topic!r}"
            )
        if self.security_protocol.startswith("SASL") and not self.sasl_mechanism:
            raise ConfigError(
                f"GEOWIRE_SASL_MECHANISM is required with GEOWIRE_SECURITY_PROTOCOL="
                f"{self.security_protocol}"
            )

    @property
    def effective_client_id(self) -> str:
        """The Kafka client id: the configured one or geowire-<hostname>."""
        return self.client_id or f"geowire-{socket.gethostname()}"

    def redacted(self) -> dict[str, Any]:
        """All settings for the startup log line, secrets replaced by a marker."""
        out = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in SECRET_FIELDS and value:
                value = "***"
            out[item.name] = value
        return out


SECRET_FIELDS = frozenset({"sasl_password"})


@dataclass(frozen=True)
class _Option:
    name: str
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None

    @property
    def env(self) -> str:
        return _env_name(self.name)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def default(self) -> Any:
        return next(f.default for f in fields(Settings) if f.name == self.name)

    @property
    def kind(self) -> Callable[[Any], Any]:
        return type(self.default)  # type: ignore[no-any-return]


def _env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


OPTIONS: tuple[_Option, ...] = (
    _Option("bootstrap_servers", "Kafka brokers, host:port[,host:port...]. Required "
            "unless --embedded-broker is given.", "HOSTS"),
    _Option("embedded_broker", "Start a private in-memory Tansu broker on loopback "
            "(for demos and tests; it forgets everything when it stops)."),
    _Option("input_topic", "Topic of article events to classify."),
    _Option("output_topic", "Topic the enriched events are written to."),
    _Option("dlq_topic", "Dead-letter topic for events that cannot be classified."),
    _Option("group_id", "Consumer group; run more instances with the same group to scale."),
    _Option("client_id", "Kafka client id (default: geowire-<hostname>)."),
    _Option("model_path", "Model artifact directory (model.joblib + manifest.json).", "DIR"),
    _Option("metrics_host", "Address the /metrics, /healthz and /readyz server binds."),
    _Option("metrics_port", "Port of the /metrics, /healthz and /readyz server (0: off)."),
    _Option("batch_size", "Most events classified in one batch."),
    _Option("batch_wait_ms", "Longest wait for a batch to fill, in milliseconds."),
    _Option("worker_process", "Classify in a worker process, so one batch is classified "
            "while the previous one is delivered (uses a second core; "
            "--no-worker-process classifies in the loop's own process)."),
    _Option("max_event_bytes", "Events larger than this are dead-lettered unparsed."),
    _Option("log_level", "DEBUG, INFO, WARNING or ERROR.",
            choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    _Option("log_format", "console, json, or auto (console on a terminal, else json).",
            choices=("auto", "console", "json")),
    _Option("delivery", "at-least-once (default) or exactly-once (transactions; "
            "readers must use isolation_level=read_committed).",
            choices=("at-least-once", "exactly-once")),
    _Option("transactional_id_prefix", "Exactly-once: prefix of the transactional id."),
    _Option("instance_slot", "Exactly-once: this instance's stable slot number; the "
            "transactional id is <prefix>-<slot> and a replacement must reuse it."),
    _Option("broker_timeout_s", "Exit 1 after the broker has been unreachable this long "
            "(0: keep retrying forever)."),
    _Option("stuck_after_s", "/healthz fails when the loop has not turned for this long."),
    _Option("create_topics", "Create missing topics at startup (off for production "
            "clusters, where topics are provisioned deliberately)."),
    _Option("topic_partitions", "Partitions for topics this process creates."),
    _Option("session_timeout_ms", "Consumer group session timeout."),
    _Option("heartbeat_interval_ms", "Consumer group heartbeat interval."),
    _Option("max_poll_interval_ms", "Longest time between polls before the group "
            "evicts this instance."),
    _Option("fetch_max_wait_ms", "Longest time the broker may hold a fetch."),
    _Option("producer_batch_bytes", "Producer batch size in bytes."),
    _Option("linger_ms", "Producer linger time in milliseconds."),
    _Option("security_protocol", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
            choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")),
    _Option("sasl_mechanism", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER."),
    _Option("sasl_username", "SASL user name."),
    _Option("sasl_password", "SASL password (prefer the environment variable; never "
            "logged)."),
    _Option("ssl_cafile", "CA bundle that signed the brokers' certificates.", "FILE"),
    _Option("ssl_certfile", "Client certificate for mutual TLS.", "FILE"),
    _Option("ssl_keyfile", "Client private key for mutual TLS.", "FILE"),
    _Option("ssl_check_hostname", "Check that broker certificates match their host names."),
)
ENV_VARS: tuple[str, ...] = tuple(option.env for option in OPTIONS)


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with a flag for every setting; unset flags parse as None."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Every flag can also be set through the environment variable named in "
        "its help; flags win over the environment.",
    )
    group = parser.add_argument_group("settings")
    for option in OPTIONS:
        help_text = f"{option.help} [env {option.env}; default {option.default!r}]"
        if option.kind is bool:
            group.add_argument(
                option.flag,
                dest=option.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text.replace("%", "%%"),
            )
        else:
            group.add_argument(
                option.flag,
                dest=option.name,
                default=None,
                metavar=option.metavar,
                choices=option.choices,
                help=help_text.replace("%", "%%"),
            )
    return parser


def _convert(option: _Option, raw: Any, source: str) -> Any:
    kind = option.kind
    if isinstance(raw, kind):
        value = raw
    elif kind is bool:
        value = _parse_bool(str(raw), source)
    else:
        try:
            value = kind(str(raw).strip())
        except ValueError as exc:
            shown = "***" if option.name in SECRET_FIELDS else repr(raw)
            raise ConfigError(
                f"{source} must be {_kind_name(kind)}, got {shown}"
            ) from exc
    if option.choices and value not in option.choices:
        raise ConfigError(f"{source} must be one of {', '.join(option.choices)}, got {raw!r}")
    return value


def _parse_bool(raw: str, source: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{source} must be true or false, got {raw!r}")


def _kind_name(kind: Callable[[Any], Any]) -> str:
    return {int: "an integer", float: "a number", str: "a string"}.get(kind, str(kind))  # type: ignore[call-overload]
