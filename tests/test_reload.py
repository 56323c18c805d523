"""Hot reload: an edit is answered within seconds with no failed request; a broken edit keeps the last good
knowledge base serving and /admin/health says what is wrong, as file:line (/healthz says that one was refused)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import aiohttp

from bot import Assistant
from bot.server import create_app
from bot.settings import Settings
from tests.fakes.servers import serving

QUESTION = {"school": "reading", "question": "can i go on tiktok on the school computer at lunch?"}
OLD = "such as lunch breaks."  # the end of reading.2.1, on one line of the folded YAML text
NEW = "such as lunch breaks (edited by HR)."
ADMIN = {"Authorization": "Bearer tok"}  # the reload detail is at /admin/health; /healthz is short


def test_an_edit_is_picked_up_and_answered_and_a_broken_edit_keeps_the_old_version(kb_copy, tmp_path):
    policy = kb_copy / "policies" / "reading.yaml"
    assert OLD in policy.read_text(encoding="utf-8")

    async def main() -> None:
        app = create_app(Assistant.from_directory(kb_copy), Settings(data_dir=tmp_path, admin_token="tok"))
        failures: list[str] = []
        answers: list[tuple[float, str]] = []
        stop = asyncio.Event()
        async with serving(app) as base, aiohttp.ClientSession() as session:

            async def stream() -> None:
                while not stop.is_set():
                    try:
                        async with session.post(f"{base}/api/ask", json=QUESTION) as r:
                            if r.status != 200:
                                failures.append(f"HTTP {r.status}")
                                continue
                            answers.append((time.monotonic(), (await r.json())["clauses"][0]["text"]))
                    except aiohttp.ClientError as exc:
                        failures.append(repr(exc))
                    await asyncio.sleep(0.01)

            streams = [asyncio.create_task(stream()) for _ in range(4)]
            async with session.get(f"{base}/admin/health", headers=ADMIN) as r:
                before = (await r.json())["knowledge"]["version"]
            await asyncio.sleep(0.3)

            # Wait on the event (the new version serving), not a wall-clock race: on a loaded machine a rebuild
            # takes longer, and bench/bench_reload.py measures how long. What must hold is that the watcher
            # picks the edit up by itself, every answer after the swap carries it, and no request fails.
            policy.write_text(policy.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")
            deadline = time.monotonic() + 60
            while True:
                async with session.get(f"{base}/admin/health", headers=ADMIN) as r:
                    health = await r.json()
                if health["knowledge"]["version"] != before:
                    break
                assert time.monotonic() < deadline, "the edit was never picked up"
                await asyncio.sleep(0.05)
            assert health["knowledge"]["reload_error"] is None
            good_version = health["knowledge"]["version"]
            swapped = len(answers)
            while len(answers) < swapped + 8:
                await asyncio.sleep(0.02)
            # a request in flight at the swap may still finish on the old version; the ones after it may not
            assert all("(edited by HR)" in text for _, text in answers[swapped + 4 :])

            broken = kb_copy / "policies" / "reading.yaml"
            broken.write_text(broken.read_text(encoding="utf-8") + "\n  - id: [unclosed\n", encoding="utf-8")
            deadline = time.monotonic() + 5
            while True:
                async with session.get(f"{base}/admin/health", headers=ADMIN) as r:
                    health = await r.json()
                if health["knowledge"]["reload_error"]:
                    break
                assert time.monotonic() < deadline, "the broken edit was never reported"
                await asyncio.sleep(0.1)
            assert health["knowledge"]["version"] == good_version
            assert health["knowledge"]["reload_error"][0].startswith("knowledge/policies/reading.yaml:")
            seen = len(answers)
            await asyncio.sleep(0.5)
            assert len(answers) > seen and all("(edited by HR)" in text for _, text in answers[seen:])

            async with session.post(f"{base}/admin/reload", headers={"Authorization": "Bearer tok"}) as r:
                assert r.status == 422
                assert (await r.json())["problems"][0].startswith("knowledge/policies/reading.yaml:")
            async with session.post(f"{base}/admin/reload") as r:
                assert r.status == 401

            stop.set()
            await asyncio.gather(*streams)
        assert failures == []
        assert len(answers) > 50

    asyncio.run(main())


def test_admin_compare_serves_the_comparison_page_behind_the_token(kb, tmp_path):
    async def main() -> None:
        app = create_app(Assistant(kb), Settings(data_dir=tmp_path, admin_token="tok"))
        async with serving(app) as base, aiohttp.ClientSession() as session:
            async with session.get(f"{base}/admin/compare") as r:
                assert r.status == 401
            headers = {"Authorization": "Bearer tok"}
            async with session.get(f"{base}/admin/compare", headers=headers) as r:
                assert r.status == 200 and r.content_type == "text/html"
                assert "personal_use_at_work" in await r.text()
            async with session.get(f"{base}/admin/compare?topic=personal_use_at_work", headers=headers) as r:
                assert "official rest breaks" in await r.text()
            async with session.get(f"{base}/admin/compare?topic=nope", headers=headers) as r:
                assert r.status == 404

    asyncio.run(main())


def test_sighup_reloads_in_a_real_server_process(kb_copy, tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.test_replicas import free_port

    port = free_port()
    env = {
        **os.environ,
        "POLICYBOT_KNOWLEDGE_DIR": str(kb_copy),
        "POLICYBOT_DATA_DIR": str(tmp_path),
        "POLICYBOT_ADMIN_TOKEN": "tok",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    async def health(session) -> dict:
        async with session.get(f"http://127.0.0.1:{port}/admin/health", headers=ADMIN) as r:
            return await r.json()

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 30
            while True:
                try:
                    before = (await health(session))["knowledge"]["version"]
                    break
                except aiohttp.ClientError:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.2)
            synonyms = kb_copy / "synonyms.yaml"
            # an edit the poller would also see; SIGHUP must pick it up at once
            synonyms.write_text(synonyms.read_text(encoding="utf-8") + "\n", encoding="utf-8")
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while (await health(session))["knowledge"]["version"] == before:
                assert time.monotonic() < deadline, "SIGHUP did not reload"
                await asyncio.sleep(0.1)

    try:
        asyncio.run(main())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
