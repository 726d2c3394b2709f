"""deploy/ checked without Docker or a cluster: files parse and agree with the code they run."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from geowire.cli import COMMANDS
from model import INVALID_REASONS, LABELS
from stream.config import ENV_VARS, Settings
from stream.health import ServiceState, start_http_server
from stream.metrics import build_metrics

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
INPUT_PARTITIONS = 6
_GEOWIRE_NAME = re.compile(r"\bGEOWIRE_[A-Z0-9_]+\b")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def k8s_docs() -> dict[str, dict[str, Any]]:
    """Every document of every kustomization resource, by `Kind/name`."""
    kustomization = load_yaml(K8S / "kustomization.yaml")
    docs = {}
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / resource).read_text()):
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), f"{resource}: {doc}"
            docs[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return docs


def compose_env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in load_yaml(DEPLOY / "docker-compose.yml")["services"][service]
            .get("environment", {}).items()}


def env_example() -> dict[str, str]:
    """GEOWIRE_* assignments in env.example, whether commented out or not."""
    pairs = re.findall(r"^(?:#\s*)?(GEOWIRE_\w+)=(.*)$", (DEPLOY / "env.example").read_text(),
                       re.MULTILINE)
    return dict(pairs)


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines
            if line and not line.startswith("#")]


def instructions(name: str) -> list[str]:
    return [args for instr, args in dockerfile() if instr == name]


def deployment_container() -> dict[str, Any]:
    return k8s_docs()["Deployment/geowire"]["spec"]["template"]["spec"]["containers"][0]


@contextmanager
def health_server(state: ServiceState) -> Iterator[int]:
    """stream.health's real server on a free loopback port."""
    registry = build_metrics(CollectorRegistry(), LABELS, INVALID_REASONS).registry
    server = start_http_server("127.0.0.1", 0, state, registry)
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def status_of(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


class TestSettingNames:
    def test_every_geowire_name_in_deploy_is_a_setting(self) -> None:
        """No file under deploy/ names a GEOWIRE_* variable that Settings does not accept."""
        for path in DEPLOY.rglob("*"):
            if path.is_file():
                unknown = set(_GEOWIRE_NAME.findall(path.read_text())) - set(ENV_VARS)
                assert not unknown, f"{path.relative_to(REPO)} names unknown settings {unknown}"

    def test_env_example_lists_every_setting_with_a_valid_value(self) -> None:
        """env.example has each setting exactly once, and Settings.load accepts them all."""
        example = env_example()
        assert sorted(example) == sorted(ENV_VARS)
        Settings.load(example)

    def test_compose_and_k8s_values_load(self) -> None:
        """The values compose and the ConfigMap set are ones Settings.load accepts."""
        Settings.load(compose_env("geowire"))
        configmap = k8s_docs()["ConfigMap/geowire-config"]["data"]
        Settings.load({**configmap, "GEOWIRE_SASL_USERNAME": "u", "GEOWIRE_SASL_PASSWORD": "p"})

    def test_the_sasl_password_comes_from_a_secret(self) -> None:
        """The password is never in the ConfigMap; the Deployment reads it from a Secret."""
        assert "GEOWIRE_SASL_PASSWORD" not in k8s_docs()["ConfigMap/geowire-config"]["data"]
        env = {e["name"]: e for e in deployment_container()["env"]}
        assert "secretKeyRef" in env["GEOWIRE_SASL_PASSWORD"]["valueFrom"]


class TestDockerfile:
    def test_multi_stage_on_a_pinned_slim_base(self) -> None:
        """Two stages from one exactly pinned python:3.11 slim image."""
        assert len(instructions("FROM")) >= 2
        (arg,) = [a for a in instructions("ARG") if a.startswith("PYTHON_IMAGE=")]
        assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?",
                            arg)

    def test_installs_pinned_without_extras_and_trains_the_model(self) -> None:
        """`pip install -c constraints.txt .` (no extra), model built where the env points."""
        runs = " ".join(instructions("RUN"))
        assert "pip install -c constraints.txt ." in runs
        assert "[embedded]" not in runs
        out = re.search(r"geowire train --data training/data --out (\S+)", runs)
        assert out
        assert f"GEOWIRE_MODEL_PATH={out.group(1)}" in " ".join(instructions("ENV")).split()

    def test_runs_as_a_non_root_user(self) -> None:
        """The final USER is a numeric, non-zero uid."""
        user = instructions("USER")[-1]
        assert re.fullmatch(r"[1-9]\d*(:\d+)?", user)

    def test_entrypoint_is_the_console_script_and_cmd_a_command(self) -> None:
        """ENTRYPOINT ["geowire"] is the project's script; CMD ["serve"] one of its commands."""
        scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
        entrypoint = json.loads(instructions("ENTRYPOINT")[-1])
        cmd = json.loads(instructions("CMD")[-1])
        assert entrypoint == ["geowire"]
        assert scripts["geowire"] == "geowire.cli:main"
        assert cmd == ["serve"]
        assert cmd[0] in COMMANDS

    def test_healthcheck_passes_when_live_and_fails_when_stuck(self) -> None:
        """The HEALTHCHECK command, run against stream.health's server, tracks /healthz."""
        (check,) = instructions("HEALTHCHECK")
        command = json.loads(check.split("CMD", 1)[1])
        assert command[0] == "python"
        assert "/healthz" in command[-1]
        state = ServiceState(stuck_after_s=60)
        with health_server(state) as port:
            env = {"GEOWIRE_METRICS_PORT": str(port)}
            run = [sys.executable, *command[1:]]
            assert subprocess.run(run, env=env, capture_output=True, check=False).returncode == 0
            state.stuck_after_s = 0
            assert subprocess.run(run, env=env, capture_output=True, check=False).returncode != 0

    def test_copied_sources_exist_and_pass_the_dockerignore(self) -> None:
        """Every COPY from the build context exists and is allow-listed in .dockerignore."""
        ignore = (REPO / ".dockerignore").read_text().split()
        for args in instructions("COPY"):
            if args.startswith("--from"):
                continue
            for source in shlex.split(args)[:-1]:
                assert (REPO / source).exists(), source
                assert f"!{source.rstrip('/')}" in {i.rstrip("/") for i in ignore}, source


class TestCompose:
    def test_services_and_pinned_images(self) -> None:
        """Kafka (official image, KRaft), topic-init, geowire, Prometheus, Grafana; no :latest."""
        services = load_yaml(DEPLOY / "docker-compose.yml")["services"]
        assert {"kafka", "topic-init", "geowire", "prometheus", "grafana"} <= services.keys()
        for name, service in services.items():
            image = service.get("image", "")
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{name}: unpinned {image!r}"
            assert not image.endswith(":latest"), name
        assert services["kafka"]["image"].startswith("apache/kafka:")
        roles = services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
        assert set(roles.split(",")) == {"broker", "controller"}

    def test_topic_init_creates_the_topics_geowire_uses(self) -> None:
        """The one-shot init creates input, output and DLQ topics with 6 partitions first."""
        services = load_yaml(DEPLOY / "docker-compose.yml")["services"]
        script = " ".join(services["topic-init"]["command"])
        env = compose_env("geowire")
        created = re.search(r"for topic in ([^;]+);", script)
        assert created
        wanted = {env[f"GEOWIRE_{k}_TOPIC"] for k in ("INPUT", "OUTPUT", "DLQ")}
        assert set(created.group(1).split()) == wanted
        assert f"--partitions {INPUT_PARTITIONS}" in script
        condition = services["geowire"]["depends_on"]["topic-init"]["condition"]
        assert condition == "service_completed_successfully"

    def test_two_geowire_replicas_in_one_group(self) -> None:
        """geowire runs twice with one group id, from the image deploy/Dockerfile builds."""
        geowire = load_yaml(DEPLOY / "docker-compose.yml")["services"]["geowire"]
        assert geowire["deploy"]["replicas"] == 2
        assert compose_env("geowire")["GEOWIRE_GROUP_ID"]
        assert (DEPLOY.parent / geowire["build"]["dockerfile"]).is_file()

    def test_prometheus_and_grafana_mounts_match_their_configs(self) -> None:
        """Prometheus reads this repo's config; Grafana's provider path is the mounted dir."""
        services = load_yaml(DEPLOY / "docker-compose.yml")["services"]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"]}
        config = next(a for a in services["prometheus"]["command"] if "--config.file=" in a)
        config_path = config.split("=", 1)[1]
        local = DEPLOY / mounts[str(Path(config_path).parent)] / Path(config_path).name
        assert local.is_file()
        grafana = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
        provider = load_yaml(DEPLOY / "grafana/provisioning/dashboards/geowire.yaml")
        dashboards_dir = provider["providers"][0]["options"]["path"]
        assert (DEPLOY / grafana[dashboards_dir] / "geowire.json").is_file()
        assert (DEPLOY / grafana["/etc/grafana/provisioning"] / "datasources").is_dir()


class TestKubernetes:
    def test_probes_hit_endpoints_stream_health_serves(self) -> None:
        """Liveness/startup probe /healthz and readiness /readyz exist on the metrics port."""
        container = deployment_container()
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        port = {p["name"]: p["containerPort"] for p in container["ports"]}["metrics"]
        configmap = k8s_docs()["ConfigMap/geowire-config"]["data"]
        assert port == int(configmap["GEOWIRE_METRICS_PORT"])
        with health_server(ServiceState(stuck_after_s=60)) as local:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert status_of(local, container[probe]["httpGet"]["path"]) in {200, 503}

    def test_resources_and_graceful_termination(self) -> None:
        """Requests and limits are set; the grace period outlasts the longest batch."""
        container = deployment_container()
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        pod = k8s_docs()["Deployment/geowire"]["spec"]["template"]["spec"]
        longest_batch_s = Settings().max_poll_interval_ms / 1000
        assert pod["terminationGracePeriodSeconds"] > longest_batch_s
        assert container["envFrom"][0]["configMapRef"]["name"] == "geowire-config"

    def test_service_monitor_and_pdb_select_the_pods(self) -> None:
        """Service, ServiceMonitor and PDB all select the Deployment's pods and port."""
        docs = k8s_docs()
        pod_labels = docs["Deployment/geowire"]["spec"]["template"]["metadata"]["labels"]
        service = docs["Service/geowire"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        monitor = docs["ServiceMonitor/geowire"]["spec"]
        assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert monitor["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
        pdb = docs["PodDisruptionBudget/geowire"]["spec"]["selector"]["matchLabels"]
        assert pdb.items() <= pod_labels.items()

    def test_keda_scales_on_the_groups_lag_up_to_the_partition_count(self) -> None:
        """KEDA's Kafka trigger watches geowire's group and topic; max replicas = partitions."""
        docs = k8s_docs()
        scaled = docs["ScaledObject/geowire"]["spec"]
        configmap = docs["ConfigMap/geowire-config"]["data"]
        assert scaled["scaleTargetRef"]["name"] == "geowire"
        assert scaled["maxReplicaCount"] == INPUT_PARTITIONS
        (trigger,) = scaled["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert int(meta["lagThreshold"]) > 0
        assert meta["allowIdleConsumers"] == "false"
        assert meta["topic"] == configmap["GEOWIRE_INPUT_TOPIC"]
        assert meta["consumerGroup"] == configmap["GEOWIRE_GROUP_ID"]
        assert meta["bootstrapServers"] == configmap["GEOWIRE_BOOTSTRAP_SERVERS"]
        auth = docs[f"TriggerAuthentication/{trigger['authenticationRef']['name']}"]
        secrets = {ref["name"] for ref in auth["spec"]["secretTargetRef"]}
        env = {e["name"]: e for e in deployment_container()["env"]}
        assert secrets == {env["GEOWIRE_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]}

    def test_prometheus_rule_equals_the_alert_rules_file(self) -> None:
        """The PrometheusRule carries exactly the groups of deploy/prometheus/alerts.yaml."""
        rule = k8s_docs()["PrometheusRule/geowire"]
        assert rule["spec"]["groups"] == load_yaml(DEPLOY / "prometheus/alerts.yaml")["groups"]
