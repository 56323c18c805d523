"""Benchmark the knowledge base at scale: 500 schools x 100 clauses written as YAML files, against the seed.

Writes, in a temporary directory, a copy of the seed `knowledge/` and a synthetic knowledge base of `--schools`
schools (default 500), each with its own policy file of 100 clauses sampled from the seed policies under new ids
(text, lead-in, heading, examples, topics and contacts kept) and a school file whose contacts are copied from a
seed school (plus any role a sampled clause needs, from the other seed schools), so `kb validate` passes. The
shared files (roles, topics, synonyms, scope, routes) are the seed's. Then, for both, in the same run:

- `policybot kb validate` wall time (a subprocess);
- `policybot serve` start-up to a 200 from `/healthz` (a subprocess on a free 127.0.0.1 port, POLICYBOT_STORAGE=off
  and POLICYBOT_ANSWER_MEMORY=0, so that every request is searched at both scales,
  the shared embedding cache; one unmeasured warm-up start first, so the figures are warm-cache ones);
- the server's RSS once healthy (VmRSS from /proc/<pid>/status);
- one policy file edited (a clause's text gets a marker word) -> the first POST /api/ask whose answer quotes it,
  while /healthz is polled every 50 ms (its worst latency) and RSS is sampled every 20 ms (its peak), and the
  /api/ask requests that failed meanwhile;
- `Assistant.ask` p50/p99 in this process, over the questions of ../shared/eval/dev.yaml and tests/eval/chat.yaml
  (at the synthetic base, each asked at a synthetic school picked at random).

It prints a table with the ratios synthetic / seed, then one JSON line. Run from the repository root:

    .venv/bin/python bench/bench_scale.py            # 500 schools (a few minutes on 2 cores)
    .venv/bin/python bench/bench_scale.py --quick    # 50 schools, fewer timed questions
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_ask  # noqa: E402 - the sibling benchmark: question loading

from bot.assistant import Assistant  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402
from bot.settings import Settings  # noqa: E402

SHARED_FILES = ("roles.yaml", "topics.yaml", "synonyms.yaml", "scope.yaml", "routes.yaml")
SCHOOLS, QUICK_SCHOOLS = 500, 50
CLAUSES = 100
SEED = 7
HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 900
RELOAD_TIMEOUT_S = 900
MARKER = "zyxwvutsedit"
REQUESTS, QUICK_REQUESTS = 500, 200  # POST /api/ask per knowledge base, after a warm-up pass
THROUGHPUT_CONCURRENCY = 50
ASK_AT = 2000  # the second size `ask` is timed at in-process
PROBE = "can i go on insta at lunch?"

Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# -- writing the knowledge bases -------------------------------------------------------------------------------
def dump(path: Path, data: Any) -> None:
    path.write_text(
        yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100000), encoding="utf-8"
    )


def clause_record(clause, new_id: str) -> dict[str, Any]:
    record: dict[str, Any] = {"id": new_id, "section": clause.section, "heading": clause.heading}
    if clause.lead_in:
        record["lead_in"] = clause.lead_in
    record["text"] = clause.text
    record["topics"] = list(clause.topics)
    record["contacts"] = list(clause.contacts)
    record["examples"] = list(clause.examples)
    return record


def write_synthetic(seed_dir: Path, out: Path, n_schools: int, n_clauses: int = CLAUSES) -> None:
    seed = load_knowledge(seed_dir)
    (out / "policies").mkdir(parents=True)
    (out / "schools").mkdir()
    for name in SHARED_FILES:
        shutil.copy(seed_dir / name, out / name)
    rng = random.Random(SEED)
    pool = [c for p in seed.policies.values() for c in p.clauses]
    templates = list(seed.schools.values())
    for n in range(n_schools):
        template = templates[n % len(templates)]
        base = seed.policies[template.policies[-1]]
        sid, pid = f"s{n}", f"s{n}-policy"
        sample = rng.sample(pool, n_clauses)  # without replacement, so the new ids stay unique
        policy = {
            "policy": {
                "id": pid,
                "title": f"Synthetic policy {n} (after {base.title})",
                "issuer": base.issuer,
                "date": base.date,
                "version": base.version,
                "review_date": base.review_date,
                "source": base.source,
            },
            "topic_notes": dict(base.topic_notes),
            "clauses": [clause_record(c, f"s{n}.{c.id}") for c in sample],
        }
        dump(out / "policies" / f"{pid}.yaml", policy)
        contacts = {}
        for school in [template, *templates]:  # the template's own first, then any role it lacks
            for role, c in school.contacts.items():
                contacts.setdefault(
                    role, {"title": c.title, "name": c.name, "email": c.email, "phone": c.phone}
                )
        school = {
            "school": {
                "id": sid,
                "name": f"Synthetic school {n} (after {template.name})",
                "employer": template.employer,
                "employer_type": template.employer_type,
                "policies": [pid],
                "general_contact": template.general_contact,
            },
            "contacts": contacts,
        }
        dump(out / "schools" / f"{sid}.yaml", school)


# -- processes -------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def policybot(directory: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "--knowledge", str(directory), *args]


def proc_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def mb(kb: int) -> float:
    return round(kb / 1024, 1)


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def ask(base: str, school: str, question: str) -> dict[str, Any]:
    body = json.dumps({"school": school, "question": question}).encode()
    request = urllib.request.Request(
        f"{base}/api/ask", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        if r.status != 200:
            raise RuntimeError(f"/api/ask answered {r.status}")
        return json.loads(r.read())


class Server:
    def __init__(self, directory: Path, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = policybot(directory, "serve", "--host", HOST, "--port", str(self.port))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = log_path

    def wait_healthy(self) -> float:
        deadline = self.started + STARTUP_TIMEOUT_S
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}:\n{self.tail()}")
            try:
                status, _ = get(f"{self.base}/healthz", timeout=1)
                if status == 200:
                    return time.perf_counter() - self.started
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"no healthy /healthz within {STARTUP_TIMEOUT_S} s:\n{self.tail()}")

    def tail(self, lines: int = 15) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# -- one knowledge base ----------------------------------------------------------------------------------------
def time_validate(directory: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(policybot(directory, "kb", "validate"), env=env, cwd=REPO, capture_output=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"kb validate failed on {directory}:\n{done.stdout.decode()[-2000:]}")
    return seconds


def edit_clause(path: Path, clause_id: str, marker: str) -> None:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)
    for clause in data["clauses"]:
        if clause["id"] == clause_id:
            clause["text"] = f"{clause['text']} Edited {marker}."
            break
    else:
        raise RuntimeError(f"clause {clause_id} not in {path}")
    dump(path, data)


def probe_question(directory: Path, school: str) -> list[str]:
    """Questions to try at `school`: the seed's lunch-time one, then its own policy's first example questions."""
    data = yaml.load((directory / "schools" / f"{school}.yaml").read_text(encoding="utf-8"), Loader=Loader)
    pid = data["school"]["policies"][-1]
    policy = yaml.load((directory / "policies" / f"{pid}.yaml").read_text(encoding="utf-8"), Loader=Loader)
    return [PROBE] + [c["examples"][0] for c in policy["clauses"] if c.get("examples")][:10]


def measure_reload(server: Server, directory: Path, school: str) -> dict[str, Any]:
    """Edit the clause that answers a question at `school`; time until an answer quotes the edit."""
    for question in probe_question(directory, school):
        first = ask(server.base, school, question)
        if first["clauses"]:
            break
    else:
        raise RuntimeError(f"no probe question quotes a clause at {school}")
    target = first["clauses"][0]
    policy_file = directory / "policies" / f"{target['policy']}.yaml"
    pid = server.proc.pid
    stop = threading.Event()
    health: list[float] = []
    rss: list[int] = []
    health_errors = [0]

    def poll_health() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                status, _ = get(f"{server.base}/healthz", timeout=10)
                if status != 200:
                    health_errors[0] += 1
            except OSError:
                health_errors[0] += 1
            health.append(time.perf_counter() - t0)
            stop.wait(0.05)

    def sample_rss() -> None:
        while not stop.is_set():
            rss.append(proc_kb(pid, "VmRSS"))
            stop.wait(0.02)

    threads = [threading.Thread(target=poll_health), threading.Thread(target=sample_rss)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # a baseline for both samplers
    t0 = time.perf_counter()
    edit_clause(policy_file, target["id"], MARKER)
    errors = asks = 0
    seconds = None
    while time.perf_counter() - t0 < RELOAD_TIMEOUT_S:
        try:
            asks += 1
            answer = ask(server.base, school, question)
            if MARKER in json.dumps(answer):
                seconds = time.perf_counter() - t0
                break
        except (OSError, RuntimeError, ValueError):
            errors += 1
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    if seconds is None:
        raise RuntimeError(f"the edit was not answered within {RELOAD_TIMEOUT_S} s:\n{server.tail()}")
    return {
        "edit_to_answer_s": round(seconds, 3),
        "edited_clause": target["id"],
        "probe_question": question,
        "reload_peak_rss_mb": mb(max(rss + [proc_kb(pid, "VmRSS")])),
        "healthz_max_ms_during_reload": round(max(health) * 1000, 1),
        "healthz_errors_during_reload": health_errors[0],
        "ask_requests_during_reload": asks,
        "ask_errors_during_reload": errors,
    }


def throughput(base: str, cases: list[tuple[str, str]], n: int) -> dict[str, Any]:
    """POST /api/ask `n` times at concurrency THROUGHPUT_CONCURRENCY over `cases`, after one unmeasured pass over
    the distinct cases (so each question's vector is cached and the figure is the knowledge base's, not the
    model's): requests per second, p99 latency and failed requests."""
    import asyncio

    import aiohttp

    async def run() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:

            async def one(school: str, question: str) -> float | None:
                t0 = time.perf_counter()
                try:
                    async with session.post(
                        f"{base}/api/ask", json={"school": school, "question": question}
                    ) as r:
                        await r.read()
                        return time.perf_counter() - t0 if r.status == 200 else None
                except aiohttp.ClientError:
                    return None

            async def drive(todo: list[tuple[str, str]]) -> list[float | None]:
                queue = iter(todo)
                out: list[float | None] = []

                async def worker() -> None:
                    for school, question in queue:
                        out.append(await one(school, question))

                await asyncio.gather(*(worker() for _ in range(THROUGHPUT_CONCURRENCY)))
                return out

            await drive(list(dict.fromkeys(cases)))
            todo = [cases[i % len(cases)] for i in range(n)]
            t0 = time.perf_counter()
            latencies = await drive(todo)
            wall = time.perf_counter() - t0
            ok = [x for x in latencies if x is not None]
            return {
                "api_ask_rps": round(len(ok) / wall, 1),
                "api_ask_p99_ms": round(float(np.percentile(ok, 99)) * 1000, 1) if ok else None,
                "api_ask_errors": len(latencies) - len(ok),
            }

    return asyncio.run(run())


def time_asks(directory: Path, cache: Path, cases: list[tuple[str, str]]) -> dict[str, float]:
    # No answer memory, as for the servers: each call searches, as a question new to that school would.
    assistant = Assistant(load_knowledge(directory), embedding_cache=cache, answer_memory=0)
    gc.collect()
    gc.freeze()  # as `policybot serve` does: the knowledge base is not swept again while questions are timed
    for school, question in dict.fromkeys(cases):  # every question once: its vector is then remembered
        assistant.ask(question, school)
    samples = []
    for school, question in cases:
        t0 = time.perf_counter_ns()
        assistant.ask(question, school)
        samples.append(time.perf_counter_ns() - t0)
    arr = np.asarray(samples, dtype=np.float64) / 1e6
    return {
        "ask_p50_ms": round(float(np.median(arr)), 3),
        "ask_p99_ms": round(float(np.percentile(arr, 99)), 3),
    }


def measure(name: str, directory: Path, env: dict[str, str], work: Path, school: str, cases, n_requests: int):
    print(f"[{name}] kb validate ...", file=sys.stderr, flush=True)
    # The first validate parses every file and fills the parse cache (POLICYBOT_DATA_DIR); the figure compared
    # is the median of three warm runs, as HR's second and later checks are.
    out: dict[str, Any] = {"validate_cold_s": round(time_validate(directory, env), 3)}
    out["validate_s"] = round(float(np.median([time_validate(directory, env) for _ in range(3)])), 3)
    print(f"[{name}] warm-up start ...", file=sys.stderr, flush=True)
    warm = Server(directory, env, work / f"{name}-warmup.log")
    try:
        warm.wait_healthy()
    finally:
        warm.stop()
    print(f"[{name}] measured start ...", file=sys.stderr, flush=True)
    server = Server(directory, env, work / f"{name}.log")
    try:
        out["startup_s"] = round(server.wait_healthy(), 3)
        time.sleep(1.0)
        out["rss_after_start_mb"] = mb(proc_kb(server.proc.pid, "VmRSS"))
        print(f"[{name}] /api/ask throughput ...", file=sys.stderr, flush=True)
        out.update(throughput(server.base, cases, n_requests))
        print(f"[{name}] edit -> answered ...", file=sys.stderr, flush=True)
        out.update(measure_reload(server, directory, school))
        out["reload_log"] = [line for line in server.tail(40).splitlines() if "policybot.reload" in line][-3:]
        # The kernel's high-water mark over the server's whole run: start, the /api/ask load and the reload.
        out["rss_peak_mb"] = mb(proc_kb(server.proc.pid, "VmHWM"))
    finally:
        server.stop()
    print(f"[{name}] ask in-process ...", file=sys.stderr, flush=True)
    out.update(time_asks(directory, Path(env["POLICYBOT_EMBEDDING_CACHE"]), cases))
    return out


# -- report ----------------------------------------------------------------------------------------------------
ROWS = [
    ("kb validate, first run: parses every file (s)", "validate_cold_s"),
    ("kb validate, warm parse cache, median of 3 (s)", "validate_s"),
    ("serve start-up to healthy /healthz (s)", "startup_s"),
    ("RSS after start (MB)", "rss_after_start_mb"),
    ("one policy file edited -> answered (s)", "edit_to_answer_s"),
    ("peak RSS during that reload (MB)", "reload_peak_rss_mb"),
    ("peak RSS over the run: start, load, reload (MB)", "rss_peak_mb"),
    ("/healthz worst latency during reload (ms)", "healthz_max_ms_during_reload"),
    ("/api/ask errors during reload", "ask_errors_during_reload"),
    ("POST /api/ask, requests per second", "api_ask_rps"),
    ("POST /api/ask p99 (ms)", "api_ask_p99_ms"),
    ("ask p50 in-process (ms)", "ask_p50_ms"),
    ("ask p99 in-process (ms)", "ask_p99_ms"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=None, help=f"synthetic schools (default {SCHOOLS})")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SCHOOLS} schools, fewer timed questions"
    )
    parser.add_argument(
        "--embedding-cache",
        type=Path,
        default=None,
        help="the shared embedding cache (default: the one policybot uses, POLICYBOT_EMBEDDING_CACHE or the data dir)",
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the knowledge bases here and keep them"
    )
    parser.add_argument(
        "--ask-at",
        type=int,
        default=None,
        help=f"also time ask in-process at this many schools (default {ASK_AT}; 0 skips; --quick skips)",
    )
    args = parser.parse_args(argv)
    n_schools = args.schools or (QUICK_SCHOOLS if args.quick else SCHOOLS)
    cache = args.embedding_cache or Settings.from_env().embedding_cache
    cache.parent.mkdir(parents=True, exist_ok=True)

    questions = bench_ask.load_questions()
    repeats = 2 if args.quick else 6
    seed_cases = questions * repeats
    rng = random.Random(8)
    synth_cases = [(f"s{rng.randrange(n_schools)}", q) for _ in range(repeats) for _, q in questions]

    tmp = tempfile.TemporaryDirectory()
    root = args.keep or Path(tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    seed_dir, synth_dir, work = root / "seed" / "knowledge", root / "scale" / "knowledge", root / "work"
    work.mkdir(exist_ok=True)
    for d in (seed_dir, synth_dir):
        if d.exists():
            shutil.rmtree(d)
    shutil.copytree(REPO / "knowledge", seed_dir)
    t0 = time.perf_counter()
    write_synthetic(seed_dir, synth_dir, n_schools)
    written = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in synth_dir.rglob("*.yaml"))
    print(
        f"wrote {n_schools} schools x {CLAUSES} clauses ({size / 2**20:.0f} MB of YAML) in {written:.1f} s",
        file=sys.stderr,
    )

    env = {
        **os.environ,
        "POLICYBOT_STORAGE": "off",
        # No answer memory: the seed's few hundred (school, question) pairs would all be answered from it and the
        # synthetic base's thousands mostly not, so the ratio would compare the memory with a search.
        "POLICYBOT_ANSWER_MEMORY": "0",
        "POLICYBOT_EMBEDDING_CACHE": str(cache),
        "POLICYBOT_DATA_DIR": str(work),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("POLICYBOT_KNOWLEDGE_DIR", None)
    env.pop("POLICYBOT_SEMANTIC", None)
    n_requests = QUICK_REQUESTS if args.quick else REQUESTS
    results = {
        "seed": measure("seed", seed_dir, env, work, "reading", seed_cases, n_requests),
        "scale": measure("scale", synth_dir, env, work, "s0", synth_cases, n_requests),
    }
    ratios: dict[str, float | None] = {}
    for _, key in ROWS:
        a, b = results["seed"].get(key), results["scale"].get(key)
        ratios[key] = round(b / a, 2) if a else None
    ask_at = args.ask_at if args.ask_at is not None else (0 if args.quick else ASK_AT)
    if ask_at:
        big_dir = root / f"scale{ask_at}" / "knowledge"
        if big_dir.exists():
            shutil.rmtree(big_dir)
        print(f"[{ask_at}] writing and timing ask in-process ...", file=sys.stderr, flush=True)
        write_synthetic(seed_dir, big_dir, ask_at)
        cases_at = [(f"s{rng.randrange(ask_at)}", q) for _ in range(repeats) for _, q in questions]
        results["at"] = time_asks(big_dir, cache, cases_at)
        for key in ("ask_p50_ms", "ask_p99_ms"):
            ratios[f"{key}_at_{ask_at}"] = round(results["at"][key] / results["seed"][key], 2)
    label = f"{n_schools} schools"
    print(f"\n{'measure':50} {'seed':>10} {label:>12} {'ratio':>7}")
    for title, key in ROWS:
        ratio = ratios[key]
        print(
            f"{title:50} {results['seed'][key]:>10} {results['scale'][key]:>12} "
            f"{f'x{ratio:.2f}' if ratio is not None else '-':>7}"
        )
    if "at" in results:
        for title, key in ROWS[-2:]:
            ratio = ratios[f"{key}_at_{ask_at}"]
            print(
                f"{title + f', {ask_at} schools':50} {results['seed'][key]:>10} {results['at'][key]:>12} x{ratio:.2f}"
            )
    for name in ("seed", "scale"):
        for line in results[name].pop("reload_log"):
            print(f"  {name} log: {line}")
    summary = {
        "schools": n_schools,
        "clauses_per_school": CLAUSES,
        "yaml_mb": round(size / 2**20, 1),
        "seed": results["seed"],
        "scale": results["scale"],
        "at": {"schools": ask_at, **results["at"]} if "at" in results else None,
        "ratio": ratios,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(summary, separators=(",", ":")))
    if not args.keep:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
