"""The Kubernetes probes and limits fit what the server was measured to need at the scale deploy/ is sized for.

deploy/sizing.yaml records that scale and the figures bench/bench_scale.py (and one cold start) measured; the
README names the same scale. If a change makes the server bigger or slower to start, the measured figures are
updated there and this test says which manifest value no longer fits.
"""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO
from tests.deploy.test_deploy_files import container

SIZING = yaml.safe_load((REPO / "deploy" / "sizing.yaml").read_text(encoding="utf-8"))
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}


def megabytes(quantity: str) -> float:
    """A Kubernetes memory quantity ("512Mi") in MB of 2**20 bytes, as the benchmark reports RSS."""
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(quantity)).groups()
    return float(number) * UNITS.get(unit or "", 1) / 2**20


def test_the_memory_limit_leaves_headroom_over_the_measured_peak():
    peak = max(SIZING["measured"]["rss_peak_mb"], SIZING["measured"]["rss_reload_peak_mb"])
    limit = megabytes(container()["resources"]["limits"]["memory"])
    assert limit >= SIZING["headroom"]["memory"] * peak, (limit, peak)


def test_the_memory_request_covers_what_the_server_holds_once_started():
    request = megabytes(container()["resources"]["requests"]["memory"])
    assert request >= SIZING["measured"]["rss_after_start_mb"], request


def test_the_startup_probe_waits_out_a_cold_start_on_one_core():
    probe = container()["startupProbe"]
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    assert budget >= SIZING["headroom"]["startup"] * SIZING["measured"]["startup_cold_s"], budget


def test_liveness_and_readiness_do_not_fail_a_pod_during_a_reload():
    worst_ms = SIZING["measured"]["healthz_worst_during_reload_ms"]
    for name in ("readinessProbe", "livenessProbe"):
        assert container()[name]["timeoutSeconds"] * 1000 > 10 * worst_ms, name


def test_the_readme_names_the_scale_deploy_is_sized_for():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    scale = SIZING["scale"]
    assert f"{scale['schools']} schools" in readme and "deploy/sizing.yaml" in readme


def test_the_pod_answers_on_as_many_threads_as_its_cpu_limit():
    from tests.deploy.test_deploy_files import k8s_one

    config = k8s_one("configmap.yaml", "ConfigMap")["data"]
    cpu = str(container()["resources"]["limits"]["cpu"])
    cores = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    assert int(config["POLICYBOT_ANSWER_THREADS"]) == max(1, int(cores))
