"""Must show (issue 12, failure 1): the log survives bad records.

The poison inputs of the issue go to the running server over real sockets: a lone surrogate in a question, a
NUL in a question, a lone surrogate in a feedback comment, a 40-character interaction id and a 100-character
school (by the web chat, which refuses the last two, and by a Teams card submit, which cannot be refused). Then
100 ordinary questions follow. All 100 are written, on SQLite and on PostgreSQL, and
`policybot_records_set_aside_total` counts the records that were set aside.
"""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp

from bot import Assistant
from bot.server import RECORDER, create_app
from bot.settings import Settings
from bot.store import Store
from tests.adapters.test_teams import activity
from tests.fakes.bot_connector import FakeConnector
from tests.fakes.servers import serving
from tests.test_storage_server import eventually


def set_aside_total(metrics_text: str, reason: str) -> float:
    found = re.search(rf'^policybot_records_set_aside_total{{reason="{reason}"}} (\S+)$', metrics_text, re.M)
    return float(found.group(1)) if found else 0.0


def test_poison_inputs_then_100_questions_all_100_are_written(kb, store_url, tmp_path):
    settings = Settings(database_url=store_url, data_dir=tmp_path, teams_no_auth=True)

    async def main() -> None:
        connector = await FakeConnector().start()
        app = create_app(Assistant(kb), settings)
        recorder = app[RECORDER]
        try:
            async with serving(app) as base, aiohttp.ClientSession() as session:
                await eventually(lambda: recorder.ready)

                async def post(path: str, body: dict) -> int:
                    # json.dumps writes a lone surrogate as the escape "\ud800", as a hostile client would
                    raw = json.dumps(body).encode()
                    async with session.post(
                        f"{base}{path}", data=raw, headers={"Content-Type": "application/json"}
                    ) as r:
                        await r.read()
                        return r.status

                async with session.post(
                    f"{base}/api/ask", json={"school": "reading", "question": "facebook \ud800"}
                ) as r:
                    assert r.status == 200
                    surrogate_answer = (await r.json())["interaction_id"]
                nul_status = await post(
                    "/api/ask", {"school": "reading", "question": "face\x00book at lunch?"}
                )
                assert nul_status in (200, 422)
                vote = {"interaction_id": surrogate_answer, "helpful": False, "comment": "wrong \ud800"}
                assert await post("/api/feedback", vote) == 200
                long_id = {"interaction_id": "i" * 40, "helpful": False}
                assert await post("/api/feedback", long_id) == 400
                long_school = {"interaction_id": surrogate_answer, "helpful": True, "school": "s" * 100}
                assert await post("/api/feedback", long_school) == 400
                for n, value in enumerate(
                    [
                        {"action": "feedback", "i": "i" * 40, "s": "crynallt", "helpful": False},
                        {"action": "feedback", "i": surrogate_answer, "s": "s" * 100, "helpful": True},
                    ]
                ):
                    submit = activity(connector, None, f"poison-{n}", value=value)
                    async with session.post(f"{base}/api/messages", json=submit) as r:
                        assert r.status in (200, 201)

                for n in range(100):
                    body = {"school": "reading", "question": f"can i use instagram at lunch? ({n})"}
                    async with session.post(f"{base}/api/ask", json=body) as r:
                        assert r.status == 200

                await eventually(lambda: not recorder.pending and recorder.in_flight == 0)
                async with session.get(f"{base}/metrics") as r:
                    metrics = await r.text()
        finally:
            await connector.stop()

        assert set_aside_total(metrics, "too_long") == 2  # the two Teams submits
        assert set_aside_total(metrics, "refused") == 0  # nothing bad was left for the database to refuse
        store = Store(store_url)
        try:
            questions = [i.question for i in await store.interactions()]
            comments = [f.comment for f in await store.feedback()]
        finally:
            await store.close()
        numbered = sorted(int(q.split("(")[1].rstrip(")")) for q in questions if q.endswith(")"))
        assert numbered == list(range(100))
        assert "facebook \ufffd" in questions
        assert "wrong \ufffd" in comments

    asyncio.run(main())
