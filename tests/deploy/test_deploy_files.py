"""The Dockerfile, Compose and Kubernetes files in deploy/ agree with the code and with each other.

No Docker engine or cluster runs here, so these tests read the files: ports, health check and probe paths
(against the routes the app really mounts), variable names (against bot.settings.ENVIRONMENT), labels,
resources, users and the files each one names.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from bot import Assistant
from bot.cli import serve
from bot.server import create_app
from bot.settings import ENVIRONMENT, Settings
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "kubernetes"
PORT = 8080
# Compose's own interpolation variables: read by docker-compose.yml (for the postgres service), not the server.
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}
PLACEHOLDER = re.compile(r"replace|change-me|example", re.IGNORECASE)


def secret_names() -> set[str]:
    """The variables holding secrets: Settings keeps them out of repr (the rest of the name is the env var's)."""
    names = set()
    for f in dataclasses.fields(Settings):
        if not f.repr:
            name = f.name.upper()
            names.add(name if name in ENVIRONMENT else f"POLICYBOT_{name}")
    assert names <= set(ENVIRONMENT), names - set(ENVIRONMENT)
    return names


SECRETS = secret_names()


# --- parsers -------------------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction: comments dropped, backslash continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # a comment inside a continuation is skipped
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continuation"
    return instructions


def docker(keyword: str) -> list[str]:
    return [args for kw, args in dockerfile() if kw == keyword]


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in docker("ENV"):
        for pair in shlex.split(args):
            name, eq, value = pair.partition("=")
            assert eq, f"ENV {args!r}: use the NAME=value form"
            env[name] = value
    return env


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def option(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]


def env_example() -> list[tuple[str, str, int]]:
    """(name, value, line index) for each NAME=value line of deploy/.env.example."""
    lines = (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
    found = []
    for i, line in enumerate(lines):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if m:
            found.append((m.group(1), m.group(2), i))
        else:
            assert not line.strip() or line.lstrip().startswith("#"), f".env.example line {i + 1}: {line!r}"
    return found


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def k8s(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d]


def k8s_one(name: str, kind: str) -> dict:
    docs = [d for d in k8s(name) if d["kind"] == kind]
    assert len(docs) == 1, f"{name}: expected one {kind}, found {len(docs)}"
    return docs[0]


def deployment() -> dict:
    return k8s_one("deployment.yaml", "Deployment")


def container() -> dict:
    containers = deployment()["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


@pytest.fixture
def get_paths(kb, tmp_path) -> set[str]:
    """The GET routes of the app as `serve` builds it (a private data directory, so nothing is written elsewhere)."""
    app = create_app(Assistant(kb), Settings(data_dir=tmp_path))
    return {r.resource.canonical for r in app.router.routes() if r.method == "GET" and r.resource is not None}


# --- ports ---------------------------------------------------------------------------------------------------


def test_the_server_default_port_is_the_one_every_file_uses():
    port_option = next(p for p in serve.params if p.name == "port")
    assert port_option.default == PORT


def test_dockerfile_exposes_and_serves_8080_on_all_interfaces():
    assert docker("EXPOSE") == [str(PORT)]
    [cmd] = docker("CMD")
    argv = exec_form(cmd)
    assert argv[:2] == ["policybot", "serve"]
    assert option(argv, "--port") == str(PORT)
    assert option(argv, "--host") == "0.0.0.0"


def test_compose_publishes_the_container_port_8080():
    bot = compose()["services"]["bot"]
    container_ports = {str(p).rsplit(":", 1)[-1] for p in bot["ports"]}
    assert container_ports == {str(PORT)}


def test_deployment_container_listens_on_8080_and_the_service_targets_it():
    c = container()
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert list(ports.values()) == [PORT]
    if "args" in c or "command" in c:
        argv = c.get("command", []) + c.get("args", [])
        assert option(argv, "--port") == str(PORT)
    service = k8s_one("service.yaml", "Service")
    [sp] = service["spec"]["ports"]
    assert sp["port"] == 80
    target = sp["targetPort"]
    assert ports.get(target, target) == PORT


# --- health checks and probes --------------------------------------------------------------------------------


def test_dockerfile_healthcheck_gets_a_mounted_route_with_urllib(get_paths):
    [healthcheck] = docker("HEALTHCHECK")
    flags, _, cmd = healthcheck.partition("CMD")
    assert re.search(r"--timeout=\d+s", flags)
    argv = exec_form(cmd.strip())
    assert argv[:2] == ["python", "-c"], "the slim image has no curl: use python"
    assert "urllib.request" in argv[2]
    [url] = re.findall(r"https?://[^'\"\s]+", argv[2])
    parsed = urlparse(url)
    assert (parsed.hostname, parsed.port) == ("127.0.0.1", PORT)
    assert parsed.path == "/healthz"
    assert parsed.path in get_paths


def test_deployment_probes_get_a_mounted_route_on_the_container_port(get_paths):
    c = container()
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        http = c[probe]["httpGet"]
        assert http["path"] in get_paths, (probe, http["path"])
        assert ports.get(http["port"], http["port"]) == PORT
    assert "startupProbe" not in c or c["startupProbe"]["httpGet"]["path"] in get_paths


def test_compose_waits_for_a_healthy_postgres_16():
    services = compose()["services"]
    assert services["bot"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "ports" not in postgres, "PostgreSQL should be reachable from the bot only"


# --- variables -----------------------------------------------------------------------------------------------


def test_env_example_lists_every_variable_once_each_with_a_comment():
    entries = env_example()
    names = [name for name, _, _ in entries]
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert set(names) == set(ENVIRONMENT) | COMPOSE_ONLY
    lines = (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
    for name, _, i in entries:
        assert i > 0 and lines[i - 1].startswith("#"), f"{name} has no comment line above it"


def test_env_example_holds_no_real_secret():
    values = {name: value for name, value, _ in env_example()}
    for name in SECRETS | COMPOSE_ONLY:
        assert values[name] == "" or PLACEHOLDER.search(values[name]), f"{name}={values[name]!r}"
    assert values["POLICYBOT_TEAMS_NO_AUTH"] != "1"
    assert values["SLACK_API_URL"] == ""


def test_compose_uses_only_variables_the_server_reads():
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    interpolated = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert interpolated <= set(ENVIRONMENT) | COMPOSE_ONLY, interpolated
    assert interpolated >= COMPOSE_ONLY, "a compose-only variable in .env.example that compose does not use"
    bot = compose()["services"]["bot"]
    env_files = bot["env_file"] if isinstance(bot["env_file"], list) else [bot["env_file"]]
    assert env_files == [".env"]
    assert set(bot.get("environment", {})) <= set(ENVIRONMENT)


def test_compose_points_the_bot_at_its_postgres_service():
    services = compose()["services"]
    url = services["bot"]["environment"]["POLICYBOT_DATABASE_URL"]
    parsed = urlparse(re.sub(r"\$\{[^}]*\}", "password", url))
    assert parsed.scheme == "postgresql"
    assert parsed.hostname == "postgres" and parsed.hostname in services
    pg_env = services["postgres"]["environment"]
    assert parsed.username == pg_env["POSTGRES_USER"]
    assert parsed.path.lstrip("/") == pg_env["POSTGRES_DB"]


def test_configmap_holds_only_non_secret_server_variables_as_strings():
    cm = k8s_one("configmap.yaml", "ConfigMap")
    data = cm["data"]
    assert set(data) <= set(ENVIRONMENT)
    assert not set(data) & SECRETS, "secrets belong in the Secret"
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings: quote numbers"
    assert data.get("POLICYBOT_TEAMS_NO_AUTH", "0") != "1"


def test_secret_example_has_every_secret_key_with_placeholder_values_only():
    text = (K8S / "secret.example.yaml").read_text(encoding="utf-8")
    assert "EXAMPLE" in text.upper()
    secret = k8s_one("secret.example.yaml", "Secret")
    values = {**secret.get("stringData", {}), **secret.get("data", {})}
    assert set(values) == SECRETS
    for name, value in values.items():
        assert value == "" or PLACEHOLDER.search(value), f"{name}={value!r}"


def test_deployment_takes_its_settings_from_the_configmap_and_the_secret():
    c = container()
    refs = {
        ("configMapRef", src["configMapRef"]["name"])
        if "configMapRef" in src
        else ("secretRef", src["secretRef"]["name"])
        for src in c["envFrom"]
    }
    assert refs == {("configMapRef", "policybot-config"), ("secretRef", "policybot-secrets")}
    assert k8s_one("configmap.yaml", "ConfigMap")["metadata"]["name"] == "policybot-config"
    assert k8s_one("secret.example.yaml", "Secret")["metadata"]["name"] == "policybot-secrets"
    names = [e["name"] for e in c.get("env", [])]
    assert set(names) <= set(ENVIRONMENT)
    assert not set(names) & SECRETS, "secret values must not be written into the Deployment"
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    image_env = docker_env()
    for name in ("POLICYBOT_KNOWLEDGE_DIR", "POLICYBOT_DATA_DIR"):
        assert env.get(name, image_env[name]) == image_env[name]


def test_dockerfile_env_names_are_server_variables_and_its_dirs_are_volumes():
    env = docker_env()
    assert {n for n in env if n.startswith(("POLICYBOT_", "SLACK_", "MICROSOFT_"))} <= set(ENVIRONMENT)
    assert env["POLICYBOT_KNOWLEDGE_DIR"] == "/app/knowledge"
    assert env["POLICYBOT_DATA_DIR"] == "/data"
    volumes = {
        v for args in docker("VOLUME") for v in (exec_form(args) if args.startswith("[") else args.split())
    }
    assert {env["POLICYBOT_KNOWLEDGE_DIR"], env["POLICYBOT_DATA_DIR"]} <= volumes


def test_compose_mounts_match_the_image_directories():
    env = docker_env()
    mounts = {}
    for volume in compose()["services"]["bot"]["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    assert set(mounts) <= {env["POLICYBOT_KNOWLEDGE_DIR"], env["POLICYBOT_DATA_DIR"]}
    for source in mounts.values():
        if source.startswith("."):
            assert (DEPLOY / source).resolve().is_dir(), source
        else:
            assert source in compose()["volumes"], f"named volume {source} not declared"


# --- the Deployment's shape ----------------------------------------------------------------------------------


def test_deployment_runs_three_non_root_replicas_with_requests_limits_and_rolling_updates():
    d = deployment()
    assert d["spec"]["replicas"] == 3
    strategy = d["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    resources = container()["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), kind
    pod_security = d["spec"]["template"]["spec"].get("securityContext", {})
    container_security = container().get("securityContext", {})
    security = {**pod_security, **container_security}
    assert security["runAsNonRoot"] is True
    assert security.get("runAsUser", 1) != 0
    assert container_security.get("allowPrivilegeEscalation") is False


def test_deployment_uid_is_the_image_user():
    [user] = docker("USER")[-1:]
    uid = user.split(":")[0]
    security = deployment()["spec"]["template"]["spec"]["securityContext"]
    if "runAsUser" in security:
        assert str(security["runAsUser"]) == uid


def test_selectors_match_the_pod_labels():
    d = deployment()
    labels = d["spec"]["template"]["metadata"]["labels"]
    selector = d["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    pdb = k8s_one("pdb.yaml", "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    assert pdb["spec"]["minAvailable"] == 2 < d["spec"]["replicas"]
    service = k8s_one("service.yaml", "Service")
    assert service["spec"]["selector"].items() <= labels.items()


def test_kustomization_lists_every_manifest_but_the_example_secret():
    [kustomization] = k8s("kustomization.yaml")
    resources = kustomization["resources"]
    for name in resources:
        assert (K8S / name).is_file(), name
    assert "secret.example.yaml" not in resources
    manifests = {
        p.name
        for p in K8S.glob("*.yaml")
        if p.name != "kustomization.yaml" and not p.name.startswith("secret")
    }
    assert set(resources) == manifests


def test_every_kubernetes_document_has_the_basic_fields():
    for path in sorted(K8S.glob("*.yaml")):
        for doc in k8s(path.name):
            assert {"apiVersion", "kind"} <= set(doc), path.name
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["name"], path.name


# --- the Dockerfile ------------------------------------------------------------------------------------------


def test_dockerfile_base_user_and_healthcheck():
    [base] = docker("FROM")
    assert base.split()[0].startswith("python:3.11-slim")
    users = docker("USER")
    assert users, "the image must not run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert docker("HEALTHCHECK")


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def test_dockerfile_copy_sources_exist_and_are_not_dockerignored():
    patterns = [p for p in dockerignore() if not p.startswith("!")]
    copies = docker("COPY")
    assert copies
    for args in copies:
        parts = [p for p in shlex.split(args) if not p.startswith("--")]
        assert not any(p.startswith("--from") for p in shlex.split(args))
        for source in parts[:-1]:
            path = REPO / source
            assert path.exists(), f"COPY {source}: not in the repository"
            top = Path(source).parts[0]
            assert not any(fnmatch(top, p) for p in patterns), f"COPY {source}: excluded by .dockerignore"


def test_dockerignore_keeps_environments_caches_and_secrets_out_of_the_context():
    patterns = dockerignore()
    for name in (".venv", ".git", ".pytest_cache", ".ruff_cache", "**/__pycache__", "tests"):
        assert name in patterns, name
    assert "deploy" in patterns or "**/.env" in patterns
