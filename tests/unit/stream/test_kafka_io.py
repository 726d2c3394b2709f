"""Kafka client options from settings, and the transactional delivery; no broker."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError, ProducerFencedError

from stream.config import Settings
from stream.errors import DeliveryError
from stream.kafka_io import common_config, max_record_bytes, security_config, transactional_id
from stream.transactions import ExactlyOnce, ProducerFenced, call_with_deadline

BASE = Settings(bootstrap_servers="b1:9092,b2:9092")
SECRET = "s3cret!"  # noqa: S105 - a test value, not a credential


class TestSecurityConfig:
    def test_plaintext_passes_only_the_protocol(self) -> None:
        """PLAINTEXT adds no SASL or SSL options."""
        assert security_config(BASE) == {"security_protocol": "PLAINTEXT"}

    @pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
    def test_sasl_settings_reach_kafka_python(self, mechanism: str) -> None:
        """SASL mechanism, user and password are passed under kafka-python's names."""
        settings = replace(BASE, security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
                           sasl_username="svc-geowire", sasl_password=SECRET)
        assert security_config(settings) == {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": mechanism,
            "sasl_plain_username": "svc-geowire",
            "sasl_plain_password": SECRET,
        }

    def test_sasl_ssl_passes_both(self) -> None:
        """SASL_SSL carries the SASL options and the TLS files and hostname check."""
        settings = replace(BASE, security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                           sasl_username="u", sasl_password=SECRET, ssl_cafile="/ca.pem",
                           ssl_check_hostname=False)
        config = security_config(settings)
        assert config["sasl_plain_password"] == SECRET
        assert config["ssl_cafile"] == "/ca.pem"
        assert config["ssl_check_hostname"] is False
        assert "ssl_certfile" not in config  # empty settings are left out

    def test_ssl_passes_the_files_for_mutual_tls(self) -> None:
        """SSL passes CA, client certificate and key; no SASL options."""
        settings = replace(BASE, security_protocol="SSL", ssl_cafile="/ca.pem",
                           ssl_certfile="/client.pem", ssl_keyfile="/client.key")
        assert security_config(settings) == {
            "security_protocol": "SSL",
            "ssl_check_hostname": True,
            "ssl_cafile": "/ca.pem",
            "ssl_certfile": "/client.pem",
            "ssl_keyfile": "/client.key",
        }

    @pytest.mark.parametrize("client", [KafkaConsumer, KafkaProducer, KafkaAdminClient])
    def test_every_option_is_one_the_client_knows(self, client: type) -> None:
        """Each option name exists in the client's DEFAULT_CONFIG (no silent typos)."""
        settings = replace(BASE, security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                           sasl_username="u", sasl_password=SECRET, ssl_cafile="/ca",
                           ssl_certfile="/c", ssl_keyfile="/k")
        assert set(common_config(settings)) <= set(client.DEFAULT_CONFIG)

    def test_bootstrap_list_and_reconnect_backoff(self) -> None:
        """Brokers are split on commas; the reconnect backoff is capped for fast recovery."""
        config = common_config(BASE)
        assert config["bootstrap_servers"] == ["b1:9092", "b2:9092"]
        assert config["reconnect_backoff_max_ms"] == 1000


class TestTransactionalId:
    def test_none_in_at_least_once_mode(self) -> None:
        """The default mode uses no transactions."""
        assert transactional_id(BASE) is None

    def test_a_stable_slot_in_exactly_once_mode(self) -> None:
        """<prefix>-<slot>: the same for an instance and its replacement."""
        settings = replace(BASE, delivery="exactly-once", transactional_id_prefix="gw",
                           instance_slot=3)
        assert transactional_id(settings) == "gw-3"


def test_record_limit_leaves_room_for_enrichment() -> None:
    """The producer accepts records twice the input limit, and never less than 1 MiB."""
    assert max_record_bytes(BASE) == 2 * 1_048_576 + 65_536
    assert max_record_bytes(replace(BASE, max_event_bytes=1024)) == 1_048_576


class TestCallWithDeadline:
    def test_returns_the_value(self) -> None:
        """A call that finishes in time returns its value."""
        assert call_with_deadline(lambda: 42, 1.0, "answer") == 42

    def test_reraises_the_error(self) -> None:
        """A call that raises raises the same error in the caller."""
        def fail() -> None:
            raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            call_with_deadline(fail, 1.0, "fail")

    def test_gives_up_on_a_call_that_blocks_forever(self) -> None:
        """commit_transaction() that never returns becomes a DeliveryError in time."""
        never = threading.Event()
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="commit_transaction did not return"):
            call_with_deadline(never.wait, 0.2, "commit_transaction")
        assert time.monotonic() - started < 1.0
        never.set()


class _FakeProducer:
    """Records transactional calls; `blocks`/`fails` make one of them misbehave."""

    def __init__(self, blocks: str = "", fails: Exception | None = None) -> None:
        self.calls: list[str] = []
        self._blocks, self._fails = blocks, fails
        self._never = threading.Event()

    def __getattr__(self, name: str) -> object:
        def call(*args: object) -> None:
            self.calls.append(name)
            if name == self._blocks:
                self._never.wait(5)
            if self._fails is not None and name == "commit_transaction":
                raise self._fails
        return call


class _FakeIO:
    """The parts of KafkaIO a delivery mode touches."""

    def __init__(self, producer: _FakeProducer) -> None:
        self.producer = producer
        self.settings = replace(BASE, delivery="exactly-once", instance_slot=2)
        self.replaced = 0
        self.consumer = type("C", (), {"group_metadata": staticmethod(lambda: "group")})()

    def send_all(self, outputs: object) -> list[object]:
        return []

    def flush_and_check(self, futures: object) -> None:
        return None

    def offsets(self, records: object) -> dict[object, object]:
        return {}

    def recreate_producer(self) -> None:
        self.replaced += 1
        self.producer = _FakeProducer()


class TestExactlyOnce:
    def test_a_batch_is_one_committed_transaction(self) -> None:
        """init once, then begin → offsets → commit for each batch."""
        io = _FakeIO(_FakeProducer())
        mode = ExactlyOnce(timeout_s=1)
        mode.prepare(io)  # type: ignore[arg-type]
        mode.deliver(io, [], [])  # type: ignore[arg-type]
        mode.deliver(io, [], [])  # type: ignore[arg-type]
        assert io.producer.calls == ["init_transactions"] + [
            "begin_transaction", "send_offsets_to_transaction", "commit_transaction"] * 2

    def test_a_commit_that_never_returns_is_aborted_in_time(self) -> None:
        """The watchdog turns a stuck commit into a DeliveryError and aborts."""
        io = _FakeIO(_FakeProducer(blocks="commit_transaction"))
        mode = ExactlyOnce(timeout_s=0.2)
        with pytest.raises(DeliveryError, match="commit_transaction did not return"):
            mode.deliver(io, [], [])  # type: ignore[arg-type]
        assert io.producer.calls[-1] == "abort_transaction"

    def test_an_abort_that_never_returns_replaces_the_producer(self) -> None:
        """A stuck abort: a new producer, whose init_transactions aborts on the broker."""
        io = _FakeIO(_FakeProducer(blocks="abort_transaction",
                                   fails=KafkaTimeoutError("broker gone")))
        mode = ExactlyOnce(timeout_s=0.2)
        with pytest.raises(KafkaTimeoutError):
            mode.deliver(io, [], [])  # type: ignore[arg-type]
        assert io.replaced == 1
        mode.deliver(io, [], [])  # type: ignore[arg-type]
        assert io.producer.calls[0] == "init_transactions"

    def test_a_fenced_producer_stops_the_instance(self) -> None:
        """Another live producer with this slot: ProducerFenced, naming the slot."""
        io = _FakeIO(_FakeProducer(fails=ProducerFencedError()))
        with pytest.raises(ProducerFenced, match="'geowire-2'"):
            ExactlyOnce(timeout_s=1).deliver(io, [], [])  # type: ignore[arg-type]
