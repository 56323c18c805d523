"""The server with its database: a restart keeps the log and choices; a database outage loses no answer and
no record; HR's report and purge work over what was logged."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import time
import urllib.parse

import aiohttp
from click.testing import CliRunner

from bot import Assistant
from bot.cli import cli
from bot.report import build_report
from bot.server import RECORDER, create_app
from bot.settings import Settings
from bot.store import Feedback, Interaction, Store, database_url_for
from tests.adapters.test_slack import SECRET, Harness, all_text, button_click
from tests.adapters.test_slack import dm as slack_dm
from tests.fakes.servers import serving
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.tcp_proxy import TcpProxy

ADMIN_TOKEN = "s3cret-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # /healthz is short; the detail is at /admin/health


def dm(text: str, ts: str) -> dict:
    return slack_dm(text, ts, user="U42", channel="D42")


async def eventually(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_a_restarted_sqlite_server_keeps_interactions_feedback_and_chosen_schools(kb, tmp_path):
    settings_for = lambda slack: Settings(  # noqa: E731
        slack_signing_secret=SECRET,
        slack_bot_token="xoxb-t",
        slack_api_url=f"{slack.url}/api/",
        data_dir=tmp_path,
        admin_token=ADMIN_TOKEN,
    )

    async def first_run(slack: FakeSlackApi) -> str:
        app = create_app(Assistant(kb), settings_for(slack))
        async with serving(app) as base, aiohttp.ClientSession() as session:
            h = Harness(session, base, slack)
            await eventually(lambda: app[RECORDER].ready)
            await h.event(dm("school reading", "1.1"), "EvChoose")
            # as a person would: the question after the reply to the choice (two DMs in flight at once may be
            # answered in either order)
            await slack.wait_for(lambda: len(slack.named("chat.postMessage")) == 1)
            await h.event(dm("can i go on tiktok at lunch?", "1.2"), "EvAsk")
            await slack.wait_for(lambda: len(slack.named("chat.postMessage")) == 2)
            answer = slack.named("chat.postMessage")[1]
            button = next(e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"])
            payload = button_click("feedback_down", button["value"], f"{slack.url}/response/1", "U42", "D42")
            await h.form({"payload": json.dumps(payload)})
            await slack.wait_for(lambda: slack.named("response_url"))
            await eventually(lambda: not app[RECORDER].pending)
            return json.loads(button["value"])["i"]

    async def second_run(slack: FakeSlackApi, interaction_id: str) -> None:
        app = create_app(Assistant(kb), settings_for(slack))
        async with serving(app) as base, aiohttp.ClientSession() as session:
            h = Harness(session, base, slack)
            await eventually(lambda: app[RECORDER].ready)
            await h.event(dm("can i check facebook at lunch?", "2.1"), "EvAfterRestart")
            await slack.wait_for(lambda: len(slack.named("chat.postMessage")) == 3)
            # still Reading's policy: the choice survived the restart
            assert "A Reading Borough Council school" in all_text(slack.named("chat.postMessage")[2])
            store = app[RECORDER].store
            assert interaction_id in {i.id for i in await store.interactions()}
            votes = await store.feedback()
            assert [(v.interaction_id, v.helpful) for v in votes] == [(interaction_id, False)]
            async with session.get(f"{base}/admin/health", headers=ADMIN) as r:
                health = await r.json()
            assert health["storage"]["storage"] == "sqlite" and not health["storage"]["degraded"]

    async def main() -> None:
        slack = await FakeSlackApi().start()
        try:
            interaction_id = await first_run(slack)
            await second_run(slack, interaction_id)
        finally:
            await slack.stop()

    asyncio.run(main())


def test_with_the_database_cut_mid_run_every_question_is_answered_and_no_record_is_lost(kb, postgres_url):
    async def main() -> None:
        target = urllib.parse.urlsplit(postgres_url)
        proxy = await TcpProxy(target.hostname, target.port).start()
        proxied = urllib.parse.urlunsplit(target._replace(netloc=f"postgres@127.0.0.1:{proxy.port}"))
        app = create_app(Assistant(kb), Settings(database_url=proxied, admin_token=ADMIN_TOKEN))
        recorder = app[RECORDER]
        answered = 0
        try:
            async with serving(app) as base, aiohttp.ClientSession() as session:
                await eventually(lambda: recorder.ready)

                async def ask(n: int) -> None:
                    nonlocal answered
                    body = {"school": "reading", "question": f"can i use instagram at lunch? ({n})"}
                    async with session.post(f"{base}/api/ask", json=body) as r:
                        assert r.status == 200
                        assert (await r.json())["status"] == "answered"
                        answered += 1

                for n in range(30):
                    await ask(n)
                proxy.cut()
                for n in range(30, 90):
                    await ask(n)
                await eventually(lambda: recorder.degraded)
                async with session.get(f"{base}/admin/health", headers=ADMIN) as r:
                    health = await r.json()
                assert r.status == 200 and health["storage"]["degraded"] is True
                async with session.get(f"{base}/healthz") as r:
                    assert r.status == 200 and (await r.json())["status"] == "degraded"
                for n in range(90, 100):
                    await ask(n)
                proxy.restore()
                await eventually(lambda: not recorder.pending and not recorder.degraded, timeout=40)
                async with session.get(f"{base}/admin/health", headers=ADMIN) as r:
                    assert (await r.json())["storage"]["degraded"] is False
        finally:
            await proxy.stop()
        assert answered == 100
        store = Store(database_url_for(Settings(database_url=postgres_url)))
        try:
            logged = await store.interactions()
        finally:
            await store.close()
        assert sorted(int(i.question.split("(")[1].rstrip(")")) for i in logged) == list(range(100))

    asyncio.run(main())


def seeded_log(tmp_path) -> Settings:
    settings = Settings(data_dir=tmp_path)
    day = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)

    async def seed() -> None:
        store = Store(database_url_for(settings))
        await store.upgrade()
        asked = Interaction(
            school="howitt",
            channel="slack",
            status="answered",
            question="can i add a parent on fb",
            clause_id="howitt.appendix.b5",
            topic="friends_parents",
            created_at=day,
        )
        await store.write(
            [
                asked,
                Interaction(
                    school="howitt",
                    channel="slack",
                    status="no_match",
                    question="how do i book a day off",
                    created_at=day,
                ),
                Interaction(
                    school="howitt",
                    channel="teams",
                    status="no_match",
                    question="How do I book a day off?",
                    created_at=day,
                ),
                Interaction(
                    school="reading",
                    channel="web",
                    status="answered",
                    question="old one",
                    created_at=day - dt.timedelta(days=60),
                ),
            ],
            [
                Feedback(
                    helpful=False,
                    channel="slack",
                    school="howitt",
                    clause_id=asked.clause_id,
                    interaction_id=asked.id,
                    created_at=day,
                )
            ],
        )
        await store.close()

    asyncio.run(seed())
    return settings


def test_the_report_lists_unanswered_questions_and_down_voted_answers_with_nearest_clauses(kb, tmp_path):
    settings = seeded_log(tmp_path)

    async def main():
        store = Store(database_url_for(settings))
        try:
            return await build_report(store, Assistant(kb), dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
        finally:
            await store.close()

    report = asyncio.run(main())
    assert [s.school for s in report.schools] == ["howitt"]  # the 60-day-old question is outside the period
    howitt = report.schools[0]
    assert (howitt.questions, howitt.answered, howitt.no_match, howitt.thumbs_down) == (3, 1, 2, 1)
    assert howitt.down_rate == 1.0 and howitt.top_topics == (("friends_parents", 1),)
    assert [(i.question, i.times) for i in howitt.unanswered] == [("How do I book a day off?", 2)]
    assert [(i.question, i.clause_id) for i in howitt.downvoted] == [
        ("can i add a parent on fb", "howitt.appendix.b5")
    ]
    assert howitt.downvoted[0].nearest and all(
        n.clause_id.startswith("howitt.") for n in howitt.downvoted[0].nearest
    )


def test_report_and_purge_commands_work_on_the_logged_data(kb, tmp_path, monkeypatch):
    settings = seeded_log(tmp_path)
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    text = runner.invoke(cli, ["report", "--since", "30d"], obj={})
    assert text.exit_code == 0, text.output
    assert "2× 'How do I book a day off?'" in text.output and "[quoted howitt.appendix.b5]" in text.output
    as_csv = runner.invoke(cli, ["report", "--csv"], obj={}).output.splitlines()
    assert as_csv[0] == "school,kind,question,times,last_asked,quoted_clause,nearest_clauses"
    assert any(line.startswith("howitt,unanswered,How do I book a day off?,2,") for line in as_csv)
    as_json = json.loads(runner.invoke(cli, ["report", "--json", "--since", "90d"], obj={}).output)
    assert {s["school"] for s in as_json["schools"]} == {"howitt", "reading"}
    purged = runner.invoke(cli, ["purge", "--older-than", "30d"], obj={})
    assert purged.exit_code == 0 and "interactions 1" in purged.output
    assert runner.invoke(cli, ["purge", "--older-than", "soon"], obj={}).exit_code == 2


def test_admin_report_needs_the_bearer_token_and_is_off_without_one(kb, tmp_path):
    settings = seeded_log(tmp_path)

    async def main() -> None:
        with_token = dataclasses.replace(settings, admin_token="s3cret-admin")
        app = create_app(Assistant(kb), with_token)
        async with serving(app) as base, aiohttp.ClientSession() as session:
            await eventually(lambda: app[RECORDER].ready)
            async with session.get(f"{base}/admin/report") as r:
                assert r.status == 401
            async with session.get(f"{base}/admin/report", headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 401
            async with session.get(
                f"{base}/admin/report?since=30d", headers={"Authorization": "Bearer s3cret-admin"}
            ) as r:
                assert r.status == 200
                body = await r.json()
            assert body["schools"][0]["unanswered"][0]["question"] == "How do I book a day off?"
            async with session.get(
                f"{base}/admin/report?since=forever", headers={"Authorization": "Bearer s3cret-admin"}
            ) as r:
                assert r.status == 400
        async with (
            serving(create_app(Assistant(kb), settings)) as base,
            aiohttp.ClientSession() as session,
            session.get(f"{base}/admin/report") as r,
        ):
            assert r.status == 404

    asyncio.run(main())


def test_storage_off_means_no_database_at_all(kb, tmp_path):
    async def main() -> None:
        settings = Settings(data_dir=tmp_path, storage=False, admin_token=ADMIN_TOKEN)
        app = create_app(Assistant(kb), settings)
        async with serving(app) as base, aiohttp.ClientSession() as session:
            async with session.post(
                f"{base}/api/ask", json={"school": "reading", "question": "can i post?"}
            ) as r:
                assert r.status == 200
            async with session.get(f"{base}/admin/health", headers=ADMIN) as r:
                assert (await r.json())["storage"]["storage"] == "none"
        assert not (tmp_path / "policybot.db").exists()

    asyncio.run(main())


def test_report_json_counts_escalations_per_school_and_csv_and_text_list_them(kb, tmp_path, monkeypatch):
    from bot.records import Escalation

    settings = seeded_log(tmp_path)

    async def escalate() -> None:
        store = Store(database_url_for(settings))
        await store.write(
            escalations=[
                Escalation(
                    school="howitt",
                    channel="slack",
                    role="headteacher",
                    user_hash="h" * 32,
                    question="=can i post the nativity video?",
                    clause_id="howitt.appendix.b5",
                )
            ]
        )
        await store.close()

    asyncio.run(escalate())
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    as_json = json.loads(runner.invoke(cli, ["report", "--json"], obj={}).output)
    [howitt] = [s for s in as_json["schools"] if s["school"] == "howitt"]
    assert len(howitt["escalations"]) == 1 and howitt["escalations"][0]["role"] == "headteacher"
    as_csv = runner.invoke(cli, ["report", "--csv"], obj={}).output
    assert "howitt,escalation to headteacher,'=can i post the nativity video?" in as_csv
    text = runner.invoke(cli, ["report"], obj={}).output
    assert "passed on to a person: 1" in text
