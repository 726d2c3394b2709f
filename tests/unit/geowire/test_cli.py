"""The `geowire` command: help, unknown commands, and offline classify."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from geowire.classify import classify_stream
from geowire.cli import main
from model import Classifier


class TestDispatch:
    def test_help_lists_every_command(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`geowire --help` names each subcommand."""
        assert main(["--help"]) == 0
        out = capsys.readouterr().out
        for command in ("serve", "demo", "produce", "tail", "classify", "train", "evaluate"):
            assert command in out

    def test_unknown_command_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown subcommand is an error with the usage."""
        assert main(["fly"]) == 2
        assert "unknown command 'fly'" in capsys.readouterr().err

    def test_serve_without_brokers_refuses_to_run_alone(self, tiny_model_dir: Path) -> None:
        """No bootstrap servers and no --embedded-broker: exit 2 with a clear message."""
        result = subprocess.run(
            [sys.executable, "-m", "stream", "--model-path", str(tiny_model_dir)],
            capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin"},
        )
        assert result.returncode == 2
        assert "GEOWIRE_BOOTSTRAP_SERVERS" in result.stderr


class TestClassify:
    def test_enriches_valid_lines_and_reports_invalid_ones(
        self, tiny_classifier: Classifier
    ) -> None:
        """Valid lines come out enriched in order; invalid ones are reported with reasons."""
        lines = [b'{"id": "a", "headline": "Tariffs rise"}', b"oops",
                 b'{"id": "b", "body": "Allies meet", "x": 1}']
        out, err = io.StringIO(), io.StringIO()
        assert classify_stream(tiny_classifier, lines, out, err) == (2, 1)
        documents = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [d["id"] for d in documents] == ["a", "b"]
        assert documents[1]["x"] == 1 and "enrichment" in documents[1]
        assert json.loads(err.getvalue())["reason"] == "not_json"
