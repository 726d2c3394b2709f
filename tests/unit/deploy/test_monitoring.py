"""The dashboard and alert rules read real metrics, and promtool accepts the rules and config."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from model import INVALID_REASONS, LABELS
from stream.metrics import build_metrics, render

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
DASHBOARD = DEPLOY / "grafana/dashboards/geowire.json"
DATASOURCES = DEPLOY / "grafana/provisioning/datasources/prometheus.yaml"
ALERTS = DEPLOY / "prometheus/alerts.yaml"
RUNBOOK = DEPLOY / "RUNBOOK.md"
# Series Prometheus itself adds to every scrape target.
SCRAPE_SERIES = {"up"}
_METRIC = re.compile(r"\bgeowire_[a-z0-9_]+\b")
REQUIRED_ALERTS = {
    "GeowireConsumerLagGrowing", "GeowireDeadLetterShareHigh", "GeowireNoPartitionsAssigned",
    "GeowireBrokerErrors", "GeowireEndToEndLatencyHigh", "GeowireDown",
}
REQUIRED_PANELS = {
    "Throughput in / out", "Dead letters by reason", "End-to-end latency",
    "Consumer lag by partition", "Topic label mix", "Top countries", "Batch size",
    "Model version",
}


def exported_names() -> set[str]:
    """Every series name geowire's /metrics can carry, read from the exposition text."""
    metrics = build_metrics(CollectorRegistry(), LABELS, INVALID_REASONS)
    text = render(metrics.registry).decode()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    names |= set(re.findall(r"^([a-zA-Z_:][\w:]*)[{ ]", text, re.MULTILINE))
    # the service turns `_created` series off (disable_created_metrics in __main__)
    return {name for name in names if not name.endswith("_created")}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[str]:
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard()["templating"]["list"]]
    return exprs


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown document."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(binary).exists():
        pytest.fail("promtool not found: apt-get update && apt-get install -y prometheus")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=60)


class TestDashboard:
    def test_every_panel_uses_the_provisioned_datasource(self) -> None:
        """Panels, targets and variables name the datasource uid Grafana is provisioned with."""
        provisioned = yaml.safe_load(DATASOURCES.read_text())["datasources"]
        uids = {d["uid"] for d in provisioned if d["type"] == "prometheus"}
        board = dashboard()
        used = [p["datasource"] for p in board["panels"] if "datasource" in p]
        used += [t["datasource"] for p in board["panels"] for t in p.get("targets", [])]
        used += [v["datasource"] for v in board["templating"]["list"]]
        assert used
        assert {d["uid"] for d in used} <= uids
        assert {d["type"] for d in used} == {"prometheus"}

    def test_has_the_panels_operators_expect(self) -> None:
        """Throughput, dead letters, latency, lag, labels, countries, batch size, model."""
        titles = {p["title"] for p in dashboard()["panels"]}
        assert titles >= REQUIRED_PANELS
        ids = [p["id"] for p in dashboard()["panels"]]
        assert len(ids) == len(set(ids))

    def test_reads_only_exported_metrics(self) -> None:
        """Every geowire_* name in a query exists in build_metrics' exposition."""
        exported = exported_names()
        for expr in dashboard_exprs():
            missing = set(_METRIC.findall(expr)) - exported
            assert not missing, f"{expr}: {missing} not exported"


class TestAlertRules:
    def test_the_issue_alerts_exist_with_annotations(self) -> None:
        """Each alert has summary, description and a runbook_url into RUNBOOK.md."""
        rules = alert_rules()
        assert {r["alert"] for r in rules} == REQUIRED_ALERTS
        anchors = github_anchors(RUNBOOK.read_text())
        for rule in rules:
            annotations = rule["annotations"]
            assert {"summary", "description", "runbook_url"} <= annotations.keys()
            path, _, anchor = annotations["runbook_url"].partition("#")
            assert path.endswith("/deploy/RUNBOOK.md"), path
            assert anchor in anchors, f"{rule['alert']}: no heading for #{anchor}"
            assert rule["labels"]["severity"] in {"warning", "critical"}

    def test_reads_only_exported_metrics(self) -> None:
        """Every metric an alert reads is exported by geowire or added by the scrape."""
        exported = exported_names() | SCRAPE_SERIES
        for rule in alert_rules():
            names = set(_METRIC.findall(rule["expr"]))
            names |= {n for n in SCRAPE_SERIES if re.search(rf"\b{n}\{{", rule["expr"])}
            assert names, rule["alert"]
            assert names <= exported, f"{rule['alert']}: {names - exported}"

    def test_promtool_checks_the_rules(self) -> None:
        """`promtool check rules` accepts alerts.yaml."""
        result = promtool("check", "rules", str(ALERTS))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_promtool_unit_tests_pass(self) -> None:
        """Each alert fires on its synthetic series and stays quiet on the look-alikes."""
        result = promtool("test", "rules", "alerts.test.yaml", cwd=ALERTS.parent)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_promtool_checks_the_compose_prometheus_config(self) -> None:
        """`promtool check config` accepts prometheus.yml and the rule files it loads."""
        result = promtool("check", "config", str(DEPLOY / "prometheus/prometheus.yml"))
        assert result.returncode == 0, result.stdout + result.stderr
