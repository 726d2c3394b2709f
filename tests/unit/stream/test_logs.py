"""Logging: JSON lines with context, and secrets masked whoever logs them."""

from __future__ import annotations

import json
import logging

import pytest

from stream.logs import configure_logging


class TestLogging:
    def test_json_lines_carry_extra_context(self, capsys: pytest.CaptureFixture[str]) -> None:
        """In json format each record is one object with its `extra` keys."""
        configure_logging("INFO", "json")
        logging.getLogger("stream.test").info("batch done", extra={"batch_size": 12})
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (line["message"], line["batch_size"], line["level"]) == ("batch done", 12, "info")

    def test_secrets_are_masked_in_messages_and_context(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A configured secret never reaches the output, in the message or in extras."""
        configure_logging("INFO", "json", secrets=["s3cr3t-pw"])
        log = logging.getLogger("kafka.fake")
        log.error("auth failed for password %s", "s3cr3t-pw", extra={"cfg": "pw=s3cr3t-pw"})
        out = capsys.readouterr().out
        assert "s3cr3t-pw" not in out
        assert "***" in out
