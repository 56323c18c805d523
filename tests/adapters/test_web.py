"""The web chat and `/api/ask`, served by the real aiohttp app on a real loopback socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from bot.server import create_app
from bot.settings import Settings
from tests.fakes.servers import serving


def serve_and(
    assistant,
    scenario: Callable[[aiohttp.ClientSession, str], Awaitable[None]],
    settings: Settings | None = None,
) -> None:
    async def main() -> None:
        async with serving(create_app(assistant, settings)) as base, aiohttp.ClientSession() as session:
            await scenario(session, base)

    asyncio.run(main())


def test_api_ask_returns_the_answer_contract(assistant):
    async def scenario(session, base):
        async with session.post(
            f"{base}/api/ask", json={"school": "reading", "question": "can i use tiktok at lunch?"}
        ) as r:
            assert r.status == 200
            data = await r.json()
        assert data["status"] == "answered" and data["school"] == "reading"
        assert "official rest breaks" in data["clauses"][0]["text"]

    serve_and(assistant, scenario)


def test_api_ask_answers_4xx_never_5xx_with_a_json_message(assistant):
    async def scenario(session, base):
        cases = [
            (b"{not json", 400),
            (json.dumps(["a"]).encode(), 400),
            (json.dumps({"school": "hogwarts", "question": "can i post?"}).encode(), 404),
            (json.dumps({"school": "reading", "question": ""}).encode(), 422),
            (json.dumps({"school": "reading", "question": "x" * 200_000}).encode(), 413),
            (json.dumps({"question": "no school"}).encode(), 400),
            (b'{"school": "reading", "question": NaN}', 400),  # not JSON, though Python reads it
            (b'{"question": Infinity}', 400),
        ]
        for body, status in cases:
            async with session.post(
                f"{base}/api/ask", data=body, headers={"Content-Type": "application/json"}
            ) as r:
                assert r.status == status, (body[:40], r.status)
                data = json.loads(await r.text(), parse_constant=lambda name: pytest.fail(f"{name} in reply"))
                assert data["status"] == "error" and data["error"]
        big = {"school": ["x"] * 5000, "question": [[1, 2]] * 5000}  # a value sent back would be 60 kB
        async with session.post(f"{base}/api/ask", json=big) as r:
            assert r.status == 400 and len(await r.read()) < 500

    serve_and(assistant, scenario)


def test_admin_health_reports_version_and_clause_count_and_metrics_count_answers(assistant):
    settings = Settings.from_env({"POLICYBOT_ADMIN_TOKEN": "s3cret-admin", "POLICYBOT_STORAGE": "off"})

    async def scenario(session, base):
        async with session.get(f"{base}/admin/health", headers={"Authorization": "Bearer s3cret-admin"}) as r:
            health = await r.json()
        assert health["knowledge_version"] == assistant.kb.version
        assert health["clauses"] == assistant.kb.clause_count
        async with session.get(f"{base}/admin/health") as r:
            assert r.status == 401
        await session.post(
            f"{base}/api/ask", json={"school": "howitt", "question": "How do I book a day off?"}
        )
        async with session.get(f"{base}/metrics") as r:
            text = await r.text()
        assert 'policybot_answers_total{channel="web",status="no_match"} 1.0' in text
        assert "policybot_answer_seconds_bucket" in text

    serve_and(assistant, scenario, settings)


def test_page_is_self_contained_and_lists_schools(assistant):
    async def scenario(session, base):
        async with session.get(f"{base}/") as r:
            html = await r.text()
        assert r.status == 200 and "<form" in html
        assert "http://" not in html and "https://" not in html  # no CDN: works offline
        async with session.get(f"{base}/api/schools") as r:
            schools = await r.json()
        assert {s["id"] for s in schools} == {"howitt", "wolverhampton", "crynallt", "rutland", "reading"}

    serve_and(assistant, scenario)


def test_an_internal_error_is_a_short_apology_without_details(kb):
    from bot import Assistant

    class Broken(Assistant):
        def ask(self, question, school_id):
            raise RuntimeError("secret internals")

    async def scenario(session, base):
        async with session.post(
            f"{base}/api/ask", json={"school": "reading", "question": "can i post?"}
        ) as r:
            assert r.status == 500
            data = await r.json()
        assert data["error"].startswith("Sorry, something went wrong") and "the HR team" in data["error"]
        assert "secret internals" not in json.dumps(data)

    serve_and(Broken(kb), scenario)


def test_a_question_of_zero_width_characters_or_with_a_nul_gets_422_saying_what_is_wrong(assistant):
    async def scenario(session, base):
        for question, says in (
            ("\u200b\u200c\u200d\ufeff", "Please type a question"),
            ("can i use facebook\x00 at lunch?", "The question contains a NUL character"),
            ("\x00", "The question contains a NUL character"),
        ):
            async with session.post(f"{base}/api/ask", json={"school": "reading", "question": question}) as r:
                assert r.status == 422, question.encode()
                assert (await r.json())["error"].startswith(says)

    serve_and(assistant, scenario)


def test_feedback_with_ids_longer_than_any_this_server_hands_out_gets_400(assistant):
    async def scenario(session, base):
        cases = [
            {"interaction_id": "i" * 33, "helpful": False},
            {"interaction_id": "i" * 32, "helpful": False, "school": "s" * 65},
            {"interaction_id": "i" * 32, "helpful": False, "clause_id": "c" * 129},
            {"interaction_id": "i" * 32, "helpful": False, "comment": "x" * 2001},
        ]
        for body in cases:
            async with session.post(f"{base}/api/feedback", json=body) as r:
                assert r.status == 400, body
        ok = {"interaction_id": "i" * 32, "helpful": False, "school": "s" * 64, "comment": "x" * 2000}
        async with session.post(f"{base}/api/feedback", json=ok) as r:
            assert r.status == 200

    serve_and(assistant, scenario)


def test_deeply_nested_json_gets_400_not_a_recursion_error(assistant):
    nested = b"[" * 30_000 + b"]" * 30_000  # 60 KB, under the 64 KB body limit
    assert len(nested) == 60_000

    async def scenario(session, base):
        for path in ("/api/ask", "/api/feedback"):
            async with session.post(
                f"{base}{path}", data=nested, headers={"Content-Type": "application/json"}
            ) as r:
                assert r.status == 400, path
                assert "not valid JSON" in (await r.json())["error"]
        async with session.post(
            f"{base}/api/ask", json={"school": "reading", "question": "can i post?"}
        ) as r:
            assert r.status == 200  # and the server goes on answering

    serve_and(assistant, scenario)


def test_the_page_is_sent_with_a_strict_content_security_policy_and_no_framing(assistant):
    async def scenario(session, base):
        async with session.get(f"{base}/") as r:
            html = await r.text()
            headers = r.headers
        policy = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
        assert policy["connect-src"] == "'self'" and policy["base-uri"] == "'none'"
        for directive, tag in (("script-src", "script"), ("style-src", "style")):
            sources = policy[directive].split()
            assert sources and all(s.startswith("'sha256-") for s in sources), policy[directive]
            assert len(sources) == html.count(f"<{tag}>")  # one hash per inline block, nothing else allowed
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"

    serve_and(assistant, scenario)


def test_a_request_without_a_question_is_asked_to_type_one(assistant):
    async def scenario(session, base):
        for body in ({"school": "reading"}, {"school": "reading", "question": None}):
            async with session.post(f"{base}/api/ask", json=body) as r:
                assert r.status == 422
                assert (await r.json())["error"].startswith("Please type a question")
        async with session.post(f"{base}/api/ask", json={"school": "reading", "question": 7}) as r:
            assert r.status == 422 and (await r.json())["error"] == "The question must be text."

    serve_and(assistant, scenario)


def test_api_ask_accepts_a_school_id_in_any_case_and_answers_with_the_canonical_id(assistant):
    async def scenario(session, base):
        async with session.post(
            f"{base}/api/ask", json={"school": "Reading", "question": "can i use tiktok at lunch?"}
        ) as r:
            assert r.status == 200
            assert (await r.json())["school"] == "reading"

    serve_and(assistant, scenario)


def test_the_favicon_is_a_small_svg_not_a_404(assistant):
    async def scenario(session, base):
        async with session.get(f"{base}/favicon.ico") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("image/svg+xml")
            body = await r.text()
        assert body.startswith("<svg") and len(body) < 1024 and "<script" not in body

    serve_and(assistant, scenario)


def test_feedback_is_in_the_database_before_the_page_is_told_it_was_recorded(assistant, tmp_path):
    from bot.server import RECORDER
    from bot.settings import Settings
    from bot.store import Store, database_url_for
    from tests.test_storage_server import eventually

    async def main() -> None:
        settings = Settings(data_dir=tmp_path)
        app = create_app(assistant, settings)
        async with serving(app) as base, aiohttp.ClientSession() as session:
            await eventually(lambda: app[RECORDER].ready)
            body = {"interaction_id": "a" * 32, "helpful": False, "school": "reading"}
            async with session.post(f"{base}/api/feedback", json=body) as r:
                assert r.status == 200
                reply = await r.json()
            store = Store(database_url_for(settings))  # another connection, as after a kill -9 and a restart
            try:
                assert [f.interaction_id for f in await store.feedback()] == ["a" * 32]
            finally:
                await store.close()
        assert reply == {
            "status": "recorded",
            "message": "Thanks, your feedback is recorded: it helps HR improve the answers.",
        }

    asyncio.run(main())


def test_with_the_database_unreachable_feedback_gets_503_saying_it_was_not_recorded(assistant, monkeypatch):
    from bot.settings import Settings
    from bot.store import recorder

    monkeypatch.setattr(recorder, "DURABLE_TIMEOUT", 0.5)

    async def main() -> None:
        settings = Settings(
            database_url="postgresql://nobody@127.0.0.1:1/nothing"
        )  # nothing listens on port 1
        async with serving(create_app(assistant, settings)) as base, aiohttp.ClientSession() as session:
            body = {"interaction_id": "b" * 32, "helpful": True}
            async with session.post(f"{base}/api/feedback", json=body) as r:
                assert r.status == 503
                reply = await r.json()
        assert reply["status"] == "not_recorded"
        assert (
            "could not record your feedback" in reply["message"] and "send it again later" in reply["message"]
        )

    asyncio.run(main())


def test_a_follow_up_in_the_same_thread_is_read_in_context_and_another_thread_is_not(assistant):
    async def ask(session, base, question, thread):
        body = {"school": "reading", "question": question, "thread": thread}
        async with session.post(f"{base}/api/ask", json=body) as r:
            assert r.status == 200
            return await r.json()

    async def scenario(session, base):
        first = await ask(session, base, "can i go on fb at lunch?", "page-1")
        assert first["status"] == "answered" and first["follow_up"] is False
        second = await ask(session, base, "what about on my own phone?", "page-1")
        assert second["status"] == "answered" and second["follow_up"] is True
        elsewhere = await ask(session, base, "what about on my own phone?", "page-2")
        assert elsewhere["follow_up"] is False

    serve_and(assistant, scenario, Settings.from_env({"POLICYBOT_STORAGE": "off"}))


def test_a_sensitive_question_on_the_web_page_still_carries_its_thread_on(assistant):
    async def scenario(session, base):
        async def ask(question):
            body = {"school": "reading", "question": question, "thread": "page-9"}
            async with session.post(f"{base}/api/ask", json=body) as r:
                assert r.status == 200
                return await r.json()

        first = await ask("a parent has been posting horrible things about me on facebook, what do i do?")
        assert first["sensitive"] is True
        # the page is the asker's own: the next message is read in the light of the first
        follow = await ask("should i reply to her?")
        assert follow["follow_up"] is True and follow["contacts"][0]["role"] != "safeguarding_lead"

    serve_and(assistant, scenario, Settings.from_env({"POLICYBOT_STORAGE": "off"}))


def test_a_thread_that_is_not_a_short_string_gets_400(assistant):
    async def scenario(session, base):
        for thread in ("t" * 101, "", 7, ["a"], {"a": 1}):
            body = {"school": "reading", "question": "can i post?", "thread": thread}
            async with session.post(f"{base}/api/ask", json=body) as r:
                assert r.status == 400, thread
                assert "`thread`" in (await r.json())["error"]
        body = {"school": "reading", "question": "can i post?", "thread": "t" * 100}
        async with session.post(f"{base}/api/ask", json=body) as r:
            assert r.status == 200

    serve_and(assistant, scenario, Settings.from_env({"POLICYBOT_STORAGE": "off"}))


def test_hi_and_help_get_a_greeting_with_three_examples_and_thanks_a_short_reply(assistant):
    async def scenario(session, base):
        for greeting in ("hi", "Hello!", "help"):
            body = {"school": "Reading", "question": greeting, "thread": "t"}
            async with session.post(f"{base}/api/ask", json=body) as r:
                assert r.status == 200
                data = await r.json()
            assert data["status"] == "help" and data["school"] == "reading", data
            assert data["school_name"] == "A Reading Borough Council school"
            assert "social media policy" in data["message"] and len(data["examples"]) == 3
        async with session.post(f"{base}/api/ask", json={"school": "reading", "question": "thanks!"}) as r:
            data = await r.json()
        assert (
            data["status"] == "help"
            and data["examples"] == []
            and data["message"].startswith("You're welcome")
        )
        # small talk does not make an unknown school known, nor an empty question a greeting
        async with session.post(f"{base}/api/ask", json={"school": "hogwarts", "question": "hi"}) as r:
            assert r.status == 404
        async with session.post(f"{base}/api/ask", json={"school": "reading", "question": "\u200b"}) as r:
            assert r.status == 422

    serve_and(assistant, scenario, Settings.from_env({"POLICYBOT_STORAGE": "off"}))


def test_escalate_is_in_the_database_before_the_page_is_told_it_was_recorded(assistant, tmp_path):
    from bot.server import RECORDER
    from bot.store import Store, database_url_for
    from tests.test_storage_server import eventually

    settings = Settings.from_env({"POLICYBOT_DATA_DIR": str(tmp_path)})

    async def main() -> None:
        app = create_app(assistant, settings)
        async with serving(app) as base, aiohttp.ClientSession() as session:
            await eventually(lambda: app[RECORDER].ready)
            ask = {"school": "reading", "question": "how do I book annual leave?", "thread": "page-9"}
            async with session.post(f"{base}/api/ask", json=ask) as r:
                answer = await r.json()
            handoff = answer["handoff"]
            assert answer["status"] == "no_match" and handoff["label"] == "Ask HR"
            body = {
                "school": answer["school"],
                "role": handoff["role"],
                "question": answer["question"],
                "clause_id": None,
                "interaction_id": answer["interaction_id"],
                "thread": "page-9",
            }
            async with session.post(f"{base}/api/escalate", json=body) as r:
                assert r.status == 200
                reply = await r.json()
            store = Store(database_url_for(settings))  # another connection: it is on disk, not in a buffer
            try:
                escalations = await store.escalations()
            finally:
                await store.close()
        assert reply["status"] == "recorded"
        assert reply["message"].startswith("Your question is recorded for the HR team. To reach them now: ")
        [escalation] = escalations
        assert (escalation.school, escalation.channel, escalation.role) == ("reading", "web", handoff["role"])
        assert escalation.question == "how do I book annual leave?"
        assert escalation.interaction_id == answer["interaction_id"]

    asyncio.run(main())


def test_escalate_with_storage_off_says_it_was_not_recorded_and_how_to_reach_the_contact(assistant):
    async def scenario(session, base):
        body = {"school": "reading", "role": "safeguarding_lead", "question": "a pupil told me something"}
        async with session.post(f"{base}/api/escalate", json=body) as r:
            assert r.status == 503
            reply = await r.json()
        assert reply["status"] == "not_recorded"
        assert "storage is turned off" in reply["message"] and "To reach them now: " in reply["message"]
        assert "Designated Safeguarding Lead" in reply["message"]

    serve_and(assistant, scenario, Settings.from_env({"POLICYBOT_STORAGE": "off"}))


def test_escalate_answers_bad_input_with_4xx_and_an_unknown_school_with_404(assistant):
    async def scenario(session, base):
        ok = {"school": "reading", "role": "hr_provider", "question": "q", "interaction_id": "i" * 32}
        cases = [
            (b"{not json", 400),
            (json.dumps(["a"]).encode(), 400),
            (b"[" * 30_000 + b"]" * 30_000, 400),
            (json.dumps({**ok, "school": None}).encode(), 400),
            (json.dumps({**ok, "role": ""}).encode(), 400),
            (json.dumps({**ok, "role": "r" * 65}).encode(), 400),
            (json.dumps({**ok, "school": "s" * 65}).encode(), 400),
            (json.dumps({**ok, "interaction_id": "i" * 33}).encode(), 400),
            (json.dumps({**ok, "clause_id": "c" * 129}).encode(), 400),
            (json.dumps({**ok, "clause_id": 5}).encode(), 400),
            (json.dumps({**ok, "question": {"a": 1}}).encode(), 400),
            (json.dumps({**ok, "thread": "t" * 101}).encode(), 400),
            (json.dumps({**ok, "school": "hogwarts"}).encode(), 404),
            (json.dumps({"school": "reading", "question": "x" * 200_000}).encode(), 413),
        ]
        for body, status in cases:
            async with session.post(
                f"{base}/api/escalate", data=body, headers={"Content-Type": "application/json"}
            ) as r:
                assert r.status == status, (body[:60], r.status)
                data = await r.json()
                assert data["status"] == "error" and data["error"]
        # an unknown role is the client's edit of a button: the school's general contact gets it instead
        async with session.post(f"{base}/api/escalate", json={**ok, "role": "wizard"}) as r:
            assert r.status == 503 and "To reach them now" in (await r.json())["message"]

    serve_and(assistant, scenario, Settings.from_env({"POLICYBOT_STORAGE": "off"}))


def test_small_talk_on_the_web_is_counted_like_any_reply(assistant):
    async def scenario(session, base):
        async with session.post(f"{base}/api/ask", json={"school": "reading", "question": "hi"}) as r:
            assert (await r.json())["status"] == "help"
        async with session.get(f"{base}/metrics") as r:
            assert 'policybot_answers_total{channel="web",status="help"} 1.0' in await r.text()

    serve_and(assistant, scenario)


def test_a_body_not_sent_as_json_gets_415_so_no_other_site_can_post_in_a_browsers_name(assistant):
    async def scenario(session, base):
        body = json.dumps({"school": "reading", "question": "can i use tiktok at lunch?"}).encode()
        for path in ("/api/ask", "/api/feedback", "/api/escalate"):
            for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
                headers = {"Content-Type": content_type} if content_type else {}
                async with session.post(f"{base}{path}", data=body, headers=headers) as r:
                    assert r.status == 415, (path, content_type)
                    assert "application/json" in (await r.json())["error"]
        headers = {"Content-Type": "application/json; charset=utf-8"}
        async with session.post(f"{base}/api/ask", data=body, headers=headers) as r:
            assert r.status == 200

    serve_and(assistant, scenario)
