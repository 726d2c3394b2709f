"""Settings: flags over environment over defaults, checked, secrets hidden."""

from __future__ import annotations

import pytest

from stream.config import ENV_VARS, Settings
from stream.errors import ConfigError


class TestPrecedence:
    def test_defaults(self) -> None:
        """With nothing set, the documented defaults apply."""
        s = Settings.load({})
        assert (s.input_topic, s.output_topic, s.dlq_topic, s.group_id) == (
            "articles", "articles.enriched", "articles.dlq", "geowire")
        assert s.bootstrap_servers == ""
        assert s.max_event_bytes == 1_048_576

    def test_environment_over_defaults(self) -> None:
        """GEOWIRE_* variables override defaults, converted to the field's type."""
        s = Settings.load({"GEOWIRE_BATCH_SIZE": "64", "GEOWIRE_INPUT_TOPIC": "news",
                           "GEOWIRE_EMBEDDED_BROKER": "true"})
        assert (s.batch_size, s.input_topic, s.embedded_broker) == (64, "news", True)

    def test_flags_over_environment(self) -> None:
        """A CLI flag wins over the environment variable."""
        s = Settings.load({"GEOWIRE_BATCH_SIZE": "64"}, ["--batch-size", "8"])
        assert s.batch_size == 8

    def test_every_field_has_an_env_var(self) -> None:
        """Each settings field can be set through GEOWIRE_<FIELD>."""
        from dataclasses import fields

        assert {f"GEOWIRE_{f.name.upper()}" for f in fields(Settings)} == set(ENV_VARS)


class TestChecks:
    @pytest.mark.parametrize(
        ("environ", "names"),
        [
            ({"GEOWIRE_BATCH_SIZE": "lots"}, "GEOWIRE_BATCH_SIZE must be an integer"),
            ({"GEOWIRE_BATCH_SIZE": "0"}, "GEOWIRE_BATCH_SIZE must be at least 1"),
            ({"GEOWIRE_METRICS_PORT": "70000"}, "at most 65535"),
            ({"GEOWIRE_CREATE_TOPICS": "maybe"}, "must be true or false"),
            ({"GEOWIRE_OUTPUT_TOPIC": "articles"}, "three different"),
            ({"GEOWIRE_SECURITY_PROTOCOL": "SASL_SSL"}, "GEOWIRE_SASL_MECHANISM is required"),
            ({"GEOWIRE_DELIVERY": "twice"}, "must be one of"),
            ({"GEOWIRE_HEARTBEAT_INTERVAL_MS": "5000"}, "a third of"),
        ],
    )
    def test_bad_values_name_the_variable(self, environ: dict[str, str], names: str) -> None:
        """A bad value raises ConfigError naming the variable and what was expected."""
        with pytest.raises(ConfigError, match=names):
            Settings.load(environ)


class TestSecrets:
    def test_password_is_hidden_from_repr_and_redacted_view(self) -> None:
        """The SASL password appears in neither repr() nor the startup log view."""
        s = Settings.load({"GEOWIRE_SASL_PASSWORD": "hunter2-secret",
                           "GEOWIRE_SECURITY_PROTOCOL": "SASL_SSL",
                           "GEOWIRE_SASL_MECHANISM": "PLAIN"})
        assert s.sasl_password == "hunter2-secret"  # noqa: S105 - a test value
        assert "hunter2-secret" not in repr(s)
        assert "hunter2-secret" not in str(s.redacted())
