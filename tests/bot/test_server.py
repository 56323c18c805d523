"""The server's own routes: admin input is checked like any other input."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.server import RECORDER, RELOADER, create_app
from bot.settings import Settings
from tests.fakes.servers import serving
from tests.test_storage_server import eventually

ADMIN = {"Authorization": "Bearer s3cret-admin"}


def test_an_impossible_report_period_gets_400_not_500(assistant, tmp_path):
    async def main() -> None:
        app = create_app(assistant, Settings(data_dir=tmp_path, admin_token="s3cret-admin"))
        async with serving(app) as base, aiohttp.ClientSession() as session:
            await eventually(lambda: app[RECORDER].ready)
            for since in ("99999999d", "999999w", "9" * 5000 + "h", "1.5d"):
                async with session.get(f"{base}/admin/report", params={"since": since}, headers=ADMIN) as r:
                    assert r.status == 400, since[:12]
                    assert "period" in (await r.json())["error"]
            async with session.get(f"{base}/admin/report", params={"since": "7d"}, headers=ADMIN) as r:
                assert r.status == 200

    asyncio.run(main())


def test_public_healthz_gives_a_status_and_a_short_reason_and_no_detail(assistant, kb_copy, tmp_path):
    """The issue's probe: with the database down and a refused knowledge edit, unauthenticated /healthz showed
    the start of an SQL statement and the knowledge directory. Now it says what is wrong in a few words."""
    from bot import Assistant

    served = Assistant.from_directory(kb_copy)
    # a database that cannot be reached: a SQLite file in a directory that does not exist
    settings = Settings(
        database_url="sqlite+aiosqlite:////nonexistent/dir/policybot.db", admin_token="s3cret-admin"
    )

    async def main() -> None:
        app = create_app(served, settings)
        async with serving(app) as base, aiohttp.ClientSession() as session:
            await eventually(lambda: app[RECORDER].degraded)  # the first attempt at the schema has failed
            async with session.get(f"{base}/healthz") as r:
                assert r.status == 200
                assert await r.json() == {
                    "status": "degraded",
                    "reason": "database unavailable; 0 log records waiting",
                }
            (kb_copy / "synonyms.yaml").write_text("synonyms: [unclosed\n", encoding="utf-8")
            await app[RELOADER].reload("test")
            async with session.get(f"{base}/healthz") as r:
                text = await r.text()
                health = await r.json()
            assert set(health) == {"status", "reason"} and health["status"] == "degraded"
            assert "knowledge edit was refused" in health["reason"]
            for leak in ("SQL", "sqlite", "/nonexistent", str(kb_copy), "synonyms.yaml", "Error"):
                assert leak not in text, leak
            async with session.get(f"{base}/admin/health", headers=ADMIN) as r:
                detail = await r.json()
            assert detail["knowledge"]["reload_error"][0].startswith("knowledge/synonyms.yaml:")
            assert detail["storage"]["last_error"] and not detail["storage"]["ready"]

    asyncio.run(main())


def test_healthz_is_ok_and_serving_when_all_is_well(assistant, tmp_path):
    async def main() -> None:
        app = create_app(assistant, Settings(data_dir=tmp_path))
        async with serving(app) as base, aiohttp.ClientSession() as session:
            await eventually(lambda: app[RECORDER].ready)
            async with session.get(f"{base}/healthz") as r:
                assert await r.json() == {"status": "ok", "reason": "serving"}

    asyncio.run(main())


def test_the_admin_report_takes_a_school_id_in_any_case_and_refuses_an_unknown_one(assistant, tmp_path):
    async def main() -> None:
        app = create_app(assistant, Settings(data_dir=tmp_path, admin_token="s3cret-admin"))
        async with serving(app) as base, aiohttp.ClientSession() as session:
            await eventually(lambda: app[RECORDER].ready)
            async with session.get(f"{base}/admin/report", params={"school": "Reading"}, headers=ADMIN) as r:
                assert r.status == 200
            async with session.get(f"{base}/admin/report", params={"school": "narnia"}, headers=ADMIN) as r:
                assert r.status == 404
                assert "Unknown school 'narnia'" in (await r.json())["error"]

    asyncio.run(main())


def test_answers_are_worked_out_on_as_many_threads_as_the_settings_say(assistant, tmp_path):
    import threading

    async def main() -> None:
        app = create_app(assistant, Settings(data_dir=tmp_path, storage=False, answer_threads=2))
        async with serving(app) as base, aiohttp.ClientSession() as session:
            # Questions new to the process: one answered before would be answered from memory, on no thread.
            bodies = [
                {"school": "reading", "question": f"can i go on insta at lunch? ({i} threads)"}
                for i in range(8)
            ]
            replies = [session.post(f"{base}/api/ask", json=body) for body in bodies]
            for reply in await asyncio.gather(*replies):
                assert reply.status == 200
            answering = {t.name for t in threading.enumerate() if t.name.startswith("answer")}
            assert 1 <= len(answering) <= 2, answering

    asyncio.run(main())


def test_the_admin_token_is_taken_whatever_the_case_of_its_scheme_and_nothing_else_is(assistant, tmp_path):
    async def main() -> None:
        app = create_app(assistant, Settings(data_dir=tmp_path, admin_token="s3cret-admin"), storage=False)
        async with serving(app) as base, aiohttp.ClientSession() as session:
            for header, status in (
                ("Bearer s3cret-admin", 200),
                ("bearer s3cret-admin", 200),
                ("BEARER s3cret-admin", 200),
                ("Bearer s3cret-admin2", 401),
                ("Basic s3cret-admin", 401),
                ("s3cret-admin", 401),
                ("Bearer", 401),
            ):
                headers = {"Authorization": header}
                async with session.get(f"{base}/admin/health", headers=headers) as r:
                    assert r.status == status, header

    asyncio.run(main())


def test_a_wrong_path_or_method_under_api_gets_a_json_error(assistant):
    async def main() -> None:
        async with (
            serving(create_app(assistant, Settings(), storage=False)) as base,
            aiohttp.ClientSession() as session,
        ):
            async with session.get(f"{base}/api/ask") as r:
                assert r.status == 405 and "POST" in r.headers["Allow"]
                assert (await r.json())["error"] == "Method Not Allowed"
            async with session.post(f"{base}/api/nope", json={}) as r:
                assert r.status == 404 and (await r.json())["error"] == "Not Found"
            async with session.get(f"{base}/nope") as r:  # outside the API, aiohttp's own page
                assert r.status == 404

    asyncio.run(main())
