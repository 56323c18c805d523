"""Two real `policybot serve` processes on one PostgreSQL behave as one bot towards Slack."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import socket
import subprocess
import sys
import time

import aiohttp

from bot.settings import Settings
from bot.store import Store, database_url_for
from tests.adapters.test_slack import SECRET, event_body, sign
from tests.conftest import REPO
from tests.fakes.slack_api import FakeSlackApi

EVENTS = 300
RETRIED = 0.30
QUESTIONS = [
    "can i be friends with pupils on fb?",
    "can i go on tiktok at lunch?",
    "who do i report a breach of the policy to?",
    "can i post pics of my class on insta?",
    # Not "what happens if i break the policy?": a disciplinary question is answered by DM, outside the thread.
    "can i put where i work on my linkedin?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_replica(port: int, env: dict[str, str], log_path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_replicas(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to all, so they drain together; kill any that has not stopped after 20 s."""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


async def wait_ready(session: aiohttp.ClientSession, base: str, proc: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()[-3000:]
        try:
            async with session.get(f"{base}/healthz") as r:
                # the public /healthz says "database not ready yet" until the schema is in place
                if r.status == 200 and "database not ready" not in (await r.json())["reason"]:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"replica at {base} never became ready:\n{log_path.read_text()[-3000:]}")


def test_retried_events_across_two_replicas_are_answered_and_logged_exactly_once(
    postgres_url, tmp_path, assistant
):
    rng = random.Random(11)

    async def main() -> None:
        slack = await FakeSlackApi().start()
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SLACK_", "MICROSOFT_", "POLICYBOT_"))
            },
            "POLICYBOT_DATABASE_URL": postgres_url,
            "POLICYBOT_DEFAULT_SCHOOL": "reading",
            "POLICYBOT_EMBEDDING_CACHE": os.environ["POLICYBOT_EMBEDDING_CACHE"],
            "POLICYBOT_HASH_SALT": "replicas-share-one-salt",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": "xoxb-replicas",
            "SLACK_API_URL": f"{slack.url}/api/",
            "XDG_DATA_HOME": str(tmp_path / "xdg"),
        }
        ports = [free_port(), free_port()]
        logs = [tmp_path / f"replica{i}.log" for i in range(2)]
        procs = [start_replica(port, env, log) for port, log in zip(ports, logs, strict=True)]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            async with aiohttp.ClientSession() as session:
                for base, proc, log in zip(bases, procs, logs, strict=True):
                    await wait_ready(session, base, proc, log)
                limit = asyncio.Semaphore(25)

                async def deliver(base: str, body: bytes, retry: int | None) -> None:
                    headers = {**sign(body), "Content-Type": "application/json"}
                    if retry:
                        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
                    async with limit, session.post(f"{base}/slack/events", data=body, headers=headers) as r:
                        assert r.status == 200, await r.text()

                deliveries = []
                retried = 0
                for n in range(EVENTS):
                    first = rng.randrange(2)
                    ts = f"1700000000.{n:06d}"
                    event = {
                        "type": "app_mention",
                        "user": f"U{n % 17}",
                        "ts": ts,
                        "channel": "C1",
                        "event_ts": ts,
                        "text": f"<@{FakeSlackApi.BOT_USER}> {QUESTIONS[n % len(QUESTIONS)]}",
                    }
                    body = event_body(event, f"Ev{n:04d}")
                    deliveries.append(deliver(bases[first], body, None))
                    if rng.random() < RETRIED:
                        retried += 1
                        deliveries.append(
                            deliver(bases[1 - first], body, 1)
                        )  # the retry goes to the other one
                rng.shuffle(deliveries)
                await asyncio.gather(*deliveries)
                assert retried >= 0.25 * EVENTS
                await slack.wait_for(lambda: len(slack.named("chat.postMessage")) >= EVENTS, timeout=60)
                await asyncio.sleep(1.5)  # a duplicate would arrive by now
        finally:
            stop_replicas(procs)
            await slack.stop()

        posts = collections.Counter(p["thread_ts"] for p in slack.named("chat.postMessage"))
        assert len(posts) == EVENTS and set(posts.values()) == {1}, posts.most_common(3)
        store = Store(database_url_for(Settings(database_url=postgres_url)))
        try:
            assert await store.count("interactions") == EVENTS
            assert await store.count("processed_events") == EVENTS
        finally:
            await store.close()
        for log in logs:
            assert "Traceback" not in log.read_text()

    asyncio.run(main())


def test_a_follow_up_delivered_to_the_other_replica_is_still_read_in_its_thread(
    postgres_url, tmp_path, assistant
):
    async def main() -> None:
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SLACK_", "MICROSOFT_", "POLICYBOT_"))
            },
            "POLICYBOT_DATABASE_URL": postgres_url,
            "POLICYBOT_EMBEDDING_CACHE": os.environ["POLICYBOT_EMBEDDING_CACHE"],
            "POLICYBOT_HASH_SALT": "replicas-share-one-salt",
            "XDG_DATA_HOME": str(tmp_path / "xdg"),
        }
        ports = [free_port(), free_port()]
        logs = [tmp_path / f"replica{i}.log" for i in range(2)]
        procs = [start_replica(port, env, log) for port, log in zip(ports, logs, strict=True)]
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        try:
            async with aiohttp.ClientSession() as session:
                for base, proc, log in zip((a, b), procs, logs, strict=True):
                    await wait_ready(session, base, proc, log)

                async def ask(base: str, question: str, thread: str) -> dict:
                    body = {"school": "reading", "question": question, "thread": thread}
                    async with session.post(f"{base}/api/ask", json=body) as r:
                        assert r.status == 200, await r.text()
                        return await r.json()

                first = await ask(a, "can i go on fb at lunch?", "page-7")
                follow = await ask(b, "what about on my own phone?", "page-7")
                stranger = await ask(b, "what about on my own phone?", "page-8")
        finally:
            stop_replicas(procs)
        assert not first["follow_up"] and follow["follow_up"] and not stranger["follow_up"]
        assert "own equipment" in follow["clauses"][0]["text"]
        store = Store(database_url_for(Settings(database_url=postgres_url)))
        try:
            assert await store.count("threads") == 2
        finally:
            await store.close()

    asyncio.run(main())


def test_two_messages_of_one_thread_given_to_two_replicas_at_once_are_answered_in_order(
    postgres_url, assistant, monkeypatch
):
    """Replica A is still answering "can i go on fb at lunch?" when "what about on my own phone?", sent a moment
    later, reaches replica B. B waits for A's turn to be saved, then reads the follow-up in its light."""
    import threading

    from bot.server import RECORDER, create_app
    from tests.fakes.servers import serving
    from tests.test_storage_server import eventually

    first_question = "can i go on fb at lunch?"
    answering = threading.Event()
    ask = type(assistant).ask

    def slow_first(self, question, school_id, context=()):
        if question == first_question:
            answering.set()
            time.sleep(0.8)  # on an answer thread: the replicas' event loops go on
        return ask(self, question, school_id, context)

    monkeypatch.setattr(type(assistant), "ask", slow_first)
    # An earlier test may have asked the same question: it must be worked out again, not answered from memory.
    monkeypatch.setattr(type(assistant), "remembered", lambda self, question, school_id: None)
    settings = Settings(database_url=postgres_url, hash_salt="replicas-share-one-salt")

    async def main() -> None:
        replica_a, replica_b = create_app(assistant, settings), create_app(assistant, settings)
        async with (
            serving(replica_a) as a,
            serving(replica_b) as b,
            aiohttp.ClientSession() as session,
        ):
            await eventually(lambda: replica_a[RECORDER].ready and replica_b[RECORDER].ready)

            async def post(base: str, question: str) -> dict:
                body = {"school": "reading", "question": question, "thread": "page-9"}
                async with session.post(f"{base}/api/ask", json=body) as r:
                    assert r.status == 200, await r.text()
                    return await r.json()

            first = asyncio.create_task(post(a, first_question))
            await eventually(answering.is_set)
            follow = await post(b, "what about on my own phone?")
            assert first.done()  # B answered only once A had
            assert not (await first)["follow_up"]
        assert follow["follow_up"] and "own equipment" in follow["clauses"][0]["text"]

    asyncio.run(main())
