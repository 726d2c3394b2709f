"""The dashboard's queries and the alert rules, evaluated by a real Prometheus scraping geowire."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream.broker import free_port
from tests.integration.harness import REPO, Topics, produce, start_service

DEPLOY = REPO / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "geowire.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
SAMPLES = REPO / "samples" / "articles.jsonl"
INSTALL_HINT = "apt-get update && apt-get install -y prometheus"
# What Grafana would put in place of its variables: windows that cover the ~25 s of
# data this test writes at a 1 s scrape interval (at least two samples per window).
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m",
                     "instance": ".*"}
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")
_SET_OPERATOR = re.compile(r"\b(?:and|or|unless)\b")
_COMPARISON = re.compile(r"(?:==|!=|>=|<=|>|<)(?:\s*bool\b)?")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
INVALID_EVENTS = (b"not json at all", b'{"headline": "no id"}', b'["an", "array"]')


@dataclass
class PrometheusServer:
    """A private Prometheus process and its HTTP API."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def api(self, path: str, **params: str) -> Any:
        """GET an /api/v1 endpoint; returns `data`, raises AssertionError on an error."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar as a one-element list) `expr` evaluates to now."""
        data = self.api("query", query=expr)
        if data["resultType"] in {"scalar", "string"}:
            return [{"value": data["result"]}]
        return list(data["result"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def run_prometheus(workdir: Path, target_port: int) -> Iterator[PrometheusServer]:
    """Run Prometheus on loopback, scraping 127.0.0.1:`target_port` every second."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(binary).exists():
        pytest.fail(f"no prometheus binary: install it ({INSTALL_HINT})")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{"job_name": "geowire",
                            "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(json.dumps(config))
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [binary, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    server = PrometheusServer(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        _wait(lambda: _http_ok(f"{server.url}/-/ready"), 30, "Prometheus ready", server)
        yield server
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _wait(check: Callable[[], object], timeout_s: float, what: str, prom: PrometheusServer) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if prom.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {prom.proc.returncode}:\n{prom.log()}")
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}:\n{prom.log()}")


def _send_traffic(bootstrap: str, topics: Topics) -> int:
    """The sample file as a burst, then a trickle over ~20 s so rate() windows fill."""
    lines = [line.encode() for line in SAMPLES.read_text().splitlines() if line.strip()]
    articles = [event for event in map(_json_object, lines) if "id" in event]
    sent = produce(bootstrap, topics.input, lines + list(INVALID_EVENTS))
    for round_no in range(10):
        started = time.monotonic()
        batch = [json.dumps({**a, "id": f"r{round_no}-{a['id']}"}).encode()
                 for a in articles[round_no * 4:(round_no + 1) * 4]]
        sent += produce(bootstrap, topics.input, [*batch, INVALID_EVENTS[round_no % 3]])
        time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
    return sent


def _json_object(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _mask(expr: str) -> str:
    """`expr` with every character inside brackets or quotes replaced by a space."""
    out, depth, quote = [], 0, ""
    for ch in expr:
        if quote:
            quote = "" if ch == quote else quote
            out.append(" ")
        elif ch in "\"'`":
            quote = ch
            out.append(" ")
        elif ch in "([{" or ch in ")]}":
            depth += 1 if ch in "([{" else -1
            out.append(" ")
        else:
            out.append(ch if depth == 0 else " ")
    return "".join(out)


def resolvable_parts(expr: str) -> list[str]:
    """The sub-expressions of an alert that must return series under healthy traffic.

    The expression is split at top-level `and`/`or`/`unless`; from each operand a
    top-level comparison with a number (`> 1000`, `== 0`) is stripped, leaving the
    measured quantity, which exists whether or not the alert condition holds.
    """
    masked, parts, start = _mask(expr), [], 0
    for match in _SET_OPERATOR.finditer(masked):
        parts.append(expr[start:match.start()])
        start = match.end()
    parts.append(expr[start:])
    stripped = []
    for part in parts:
        comparisons = list(_COMPARISON.finditer(_mask(part)))
        last = comparisons[-1] if comparisons else None
        if last and _NUMBER.fullmatch(part[last.end():].strip()):
            part = part[:last.start()]
        stripped.append(" ".join(part.split()))
    return stripped


def _substitute(expr: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in GRAFANA_VARIABLES, f"unknown Grafana variable ${name} in {expr}"
        return GRAFANA_VARIABLES[name]

    return _VARIABLE.sub(replace, expr)


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every label_values() variable query."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = [(f"panel {panel['title']!r} {target['refId']}", target["expr"])
             for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        match = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
        assert match, f"variable {variable['name']}: expected label_values(metric, label)"
        found.append((f"variable ${variable['name']}", match.group(1)))
    return found


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


class TestResolvableParts:
    def test_comparisons_are_stripped_per_operand(self) -> None:
        """An `and` of two thresholded quantities yields both quantities."""
        expr = 'sum by (p) (lag{a=~">x"}) > 1000\nand\nsum(deriv(lag[10m])) > 0'
        assert resolvable_parts(expr) == ['sum by (p) (lag{a=~">x"})', "sum(deriv(lag[10m]))"]

    def test_comparison_between_vectors_is_kept(self) -> None:
        """A comparison with something other than a number is left whole."""
        assert resolvable_parts("a > b") == ["a > b"]


@pytest.mark.timeout(120)
def test_every_dashboard_and_alert_expression_resolves(
    bootstrap: str, topics: Topics, tiny_model_dir: Path, log_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each dashboard query and each alert's measured quantity returns series, error-free.

    A private Prometheus scrapes one `geowire serve` every second, with the alert rules
    loaded, while valid and invalid events flow. Dashboard queries (Grafana variables
    replaced by fixed windows) must each return at least one series. Alert expressions
    must evaluate without error; as healthy traffic rightly leaves most alert conditions
    false, each alert is also split at top-level `and`/`or`/`unless` and stripped of
    its final comparison with a number (`... > 1000` becomes `...`), and every such
    part must return series: the alert watches something the service really exports.
    """
    service = start_service(bootstrap, topics, tiny_model_dir, log_dir)
    try:
        service.wait_ready()
        with run_prometheus(tmp_path, service.port) as prom:
            sent = _send_traffic(bootstrap, topics)
            _wait(lambda: prom.query(f"geowire_events_consumed_total >= {sent}"), 30,
                  f"{sent} consumed events scraped", prom)
            rules = alert_rules()
            _wait(lambda: _rules_healthy(prom, len(rules)), 15, "rules evaluated", prom)
            counts = _evaluate_everything(prom, rules)
        with capsys.disabled():
            print(f"\nPromQL evaluated against live Prometheus: {counts['dashboard']} "
                  f"dashboard expressions and {counts['alerts']} alert expressions all "
                  f"resolve ({counts['parts']} alert parts returned series; "
                  f"{counts['queries']} queries in all)")
    finally:
        assert service.stop() == 0, service.log()


def _rules_healthy(prom: PrometheusServer, expected: int) -> bool:
    loaded = [rule for group in prom.api("rules")["groups"] for rule in group["rules"]]
    assert len(loaded) == expected, f"Prometheus loaded {len(loaded)} rules, not {expected}"
    bad = [(r["name"], r["health"], r.get("lastError")) for r in loaded if r["health"] != "ok"]
    assert all(health == "unknown" for _, health, _ in bad), f"unhealthy rules: {bad}"
    return not bad


def _evaluate_everything(prom: PrometheusServer, rules: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"dashboard": 0, "alerts": 0, "parts": 0, "queries": 0}
    empty: list[str] = []
    for where, expr in dashboard_expressions():
        counts["dashboard"] += 1
        counts["queries"] += 1
        if not prom.query(_substitute(expr)):
            empty.append(f"{where}: {expr}")
    for rule in rules:
        prom.query(rule["expr"])  # raises on any error; may be empty (the alert is quiet)
        counts["alerts"] += 1
        counts["queries"] += 1
        for part in resolvable_parts(rule["expr"]):
            counts["parts"] += 1
            counts["queries"] += 1
            if not prom.query(part):
                empty.append(f"alert {rule['alert']}: {part}")
    assert not empty, "expressions without series:\n" + "\n".join(empty)
    return counts
