"""What a kill -9 loses: acknowledged questions missing from the log, and acknowledged feedback (there must be none).

For each trial: start the real server (`python -m bot.cli serve` on a free 127.0.0.1 port, a separate process)
with SQLite in a fresh temporary POLICYBOT_DATA_DIR and POLICYBOT_SEMANTIC=off, wait until /healthz says
`ok`, then send POST /api/ask at a fixed rate (open loop: request i leaves at i / rate seconds, whatever the
others are doing) and, after every tenth answer, a 👎 for it to POST /api/feedback. After `--seconds` of traffic,
SIGKILL the server while requests are still arriving. Then read the SQLite file and compare:

- interactions: the interaction_id of every 200 answer received before the kill against the rows of the
  `interactions` table. The loss is printed as records and as seconds of traffic (records lost / rate), with the
  age at the kill of the oldest lost answer: the README promises at most about one second;
- feedback: every vote answered `"status": "recorded"` must be in the `feedback` table.

Run from anywhere: `.venv/bin/python bench/bench_crash.py` (`--quick` for one short trial per rate). A benchmark,
not a test: it reports, it does not fail. Every request goes to 127.0.0.1. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 10.0
FEEDBACK_EVERY = 10
PROMISE_S = 1.0  # the README's promise: a crash loses at most about the last second of the log
QUESTIONS = (
    ("reading", "can i use tiktok at lunch?"),
    ("howitt", "can i accept a friend request from a parent?"),
    ("rutland", "who do i tell if a colleague breaks the social media policy?"),
    ("crynallt", "can i post photos of my class on instagram?"),
    ("wolverhampton", "someone is abusing me online, who do i tell?"),
    ("reading", "how do I book annual leave?"),  # a decline is logged too
)


@dataclass
class Trial:
    rate: float
    seconds: float
    acked: dict[str, float] = field(default_factory=dict)  # interaction_id -> when its answer arrived
    votes: dict[str, float] = field(
        default_factory=dict
    )  # feedback interaction_id -> when "recorded" arrived
    votes_unrecorded: int = 0
    errors: int = 0
    killed_at: float = 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(port: int, data_dir: Path, log_file) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYBOT_", "SLACK_", "MICROSOFT_"))}
    env |= {"POLICYBOT_DATA_DIR": str(data_dir), "POLICYBOT_SEMANTIC": "off", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", HOST, "--port", str(port)]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)


async def wait_ok(session: aiohttp.ClientSession, base: str, proc: subprocess.Popen) -> None:
    """Until /healthz says ok: the schema is in place and the log is being written."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        try:
            async with session.get(f"{base}/healthz") as r:
                if r.status == 200 and (await r.json())["status"] == "ok":
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server was not ready in time")


async def one_question(session: aiohttp.ClientSession, base: str, trial: Trial, i: int) -> None:
    school, question = QUESTIONS[i % len(QUESTIONS)]
    try:
        async with session.post(f"{base}/api/ask", json={"school": school, "question": question}) as r:
            if r.status != 200:
                trial.errors += 1
                return
            answer = await r.json()
        trial.acked[answer["interaction_id"]] = time.monotonic()
        if i % FEEDBACK_EVERY == 0:
            vote = {"interaction_id": answer["interaction_id"], "helpful": False, "school": school}
            async with session.post(f"{base}/api/feedback", json=vote) as r:
                if r.status == 200 and (await r.json())["status"] == "recorded":
                    trial.votes[answer["interaction_id"]] = time.monotonic()
                else:
                    trial.votes_unrecorded += 1
    except (TimeoutError, aiohttp.ClientError):
        pass  # in flight at the kill: never acknowledged, so not counted either way


async def traffic_then_kill(trial: Trial, base: str, proc: subprocess.Popen) -> None:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await wait_ok(session, base, proc)
        started = time.monotonic()
        tasks: list[asyncio.Task] = []
        i = 0
        # Open loop: request i leaves at started + i / rate; the kill comes at started + seconds, mid-traffic.
        while (now := time.monotonic()) < started + trial.seconds:
            due = started + i / trial.rate
            if due > now:
                await asyncio.sleep(due - now)
                continue
            tasks.append(asyncio.create_task(one_question(session, base, trial, i)))
            i += 1
        proc.send_signal(signal.SIGKILL)
        trial.killed_at = time.monotonic()
        await asyncio.gather(*tasks)
        # Anything acknowledged after the kill was sent was already on its way out of the dying process.
        trial.acked = {k: t for k, t in trial.acked.items() if t <= trial.killed_at}
        trial.votes = {k: t for k, t in trial.votes.items() if t <= trial.killed_at}


def stored_ids(db: Path, table: str, column: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute(f"SELECT {column} FROM {table}")}  # noqa: S608 - our own names


def run_trial(rate: float, seconds: float) -> dict[str, Any]:
    trial = Trial(rate, seconds)
    with tempfile.TemporaryDirectory(prefix="policybot-crash-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        with open(data_dir / "server.log", "w") as log_file:
            proc = start_server(port, data_dir, log_file)
            try:
                asyncio.run(traffic_then_kill(trial, f"http://{HOST}:{port}", proc))
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        db = data_dir / "policybot.db"
        interactions = stored_ids(db, "interactions", "id")
        feedback = stored_ids(db, "feedback", "interaction_id")
    lost = {k: t for k, t in trial.acked.items() if k not in interactions}
    votes_lost = [k for k in trial.votes if k not in feedback]
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "acknowledged": len(trial.acked),
        "stored": len(trial.acked) - len(lost),
        "lost": len(lost),
        "lost_seconds_of_traffic": round(len(lost) / rate, 3),
        "oldest_lost_age_s": round(trial.killed_at - min(lost.values()), 3) if lost else 0.0,
        "errors": trial.errors,
        "feedback_recorded": len(trial.votes),
        "feedback_recorded_but_lost": len(votes_lost),
        "feedback_not_recorded": trial.votes_unrecorded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="20,100,200", help="questions per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of traffic before the kill")
    parser.add_argument("--trials", type=int, default=3, help="trials per rate")
    parser.add_argument("--quick", action="store_true", help="one 3 s trial per rate")
    args = parser.parse_args()
    trials, seconds = (1, 3.0) if args.quick else (args.trials, args.seconds)
    results = [run_trial(float(rate), seconds) for rate in args.rates.split(",") for _ in range(trials)]
    header = ("rate/s", "acked", "stored", "lost", "lost, s of traffic", "oldest lost, s", "votes ok/lost")
    print(" | ".join(header))
    for r in results:
        print(
            f"{r['rate_per_s']:>6g} | {r['acknowledged']:>5} | {r['stored']:>6} | {r['lost']:>4} | "
            f"{r['lost_seconds_of_traffic']:>18} | {r['oldest_lost_age_s']:>14} | "
            f"{r['feedback_recorded']}/{r['feedback_recorded_but_lost']}"
        )
    worst = max(r["lost_seconds_of_traffic"] for r in results)
    oldest = max(r["oldest_lost_age_s"] for r in results)
    votes_lost = sum(r["feedback_recorded_but_lost"] for r in results)
    verdict = "met" if oldest <= PROMISE_S and votes_lost == 0 else "MISSED"
    print(
        f"worst: {worst} s of traffic lost; oldest lost answer {oldest} s before the kill; "
        f"recorded feedback lost: {votes_lost} (promise: <= {PROMISE_S:g} s and 0 votes: {verdict})"
    )
    print(json.dumps({"trials": results, "worst_lost_seconds": worst, "oldest_lost_age_s": oldest}))


if __name__ == "__main__":
    main()
