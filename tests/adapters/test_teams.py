"""Teams end to end: Bot Framework activities to the real server, replies to a fake connector."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiohttp
import jwt

from adapters import teams
from adapters.teams_cards import CARD_VERSION, CONTENT_TYPE
from bot import Assistant
from bot.server import create_app
from bot.settings import Settings
from tests.fakes.bot_connector import FakeConnector
from tests.fakes.servers import serving

TENANT = "tenant-fake-1"
BOT = {"id": "28:policybot", "name": "Policy Assistant"}


def activity(
    connector: FakeConnector, text: str, activity_id: str, *, mention: bool = False, **extra
) -> dict:
    body: dict[str, Any] = {
        "type": "message",
        "id": activity_id,
        "timestamp": "2026-11-23T10:00:00.000Z",
        "serviceUrl": f"{connector.url}/",
        "channelId": "msteams",
        "from": {"id": "29:user-1", "name": "Sam", "aadObjectId": "aad-user-1"},
        "conversation": {"id": "a:conv-1", "conversationType": "personal", "tenantId": TENANT},
        "recipient": BOT,
        "text": text,
        "channelData": {"tenant": {"id": TENANT}},
    }
    if mention:
        body["text"] = f"<at>{BOT['name']}</at> {text}"
        body["entities"] = [{"type": "mention", "mentioned": BOT, "text": f"<at>{BOT['name']}</at>"}]
        body["conversation"] = {
            "id": "19:channel-1@thread.tacv2",
            "conversationType": "channel",
            "tenantId": TENANT,
        }
        body["channelData"] = {"tenant": {"id": TENANT}, "team": {"id": "19:team-1@thread.tacv2"}}
    body.update(extra)
    return body


def run_teams(kb, scenario, settings: Settings | None = None) -> None:
    kb = dataclasses.replace(kb, channel_schools={teams.scope_key("tenants", TENANT): "crynallt"})
    settings = settings or Settings(teams_no_auth=True)

    async def main() -> None:
        connector = await FakeConnector().start()
        try:
            async with (
                serving(create_app(Assistant(kb), settings)) as base,
                aiohttp.ClientSession() as session,
            ):
                await scenario(session, f"{base}/api/messages", connector)
        finally:
            await connector.stop()

    asyncio.run(main())


def card_of(reply: dict) -> dict:
    attachment = reply["attachments"][0]
    assert attachment["contentType"] == CONTENT_TYPE
    return attachment["content"]


def test_a_personal_message_gets_an_adaptive_card_reply_to_the_activity(kb):
    async def scenario(session, url, connector):
        async with session.post(
            url, json=activity(connector, "can i accept a friend request from a parent?", "act-1")
        ) as r:
            assert r.status in (200, 201)
        await connector.wait_for(lambda: connector.named("reply"))
        reply = connector.named("reply")[0]
        assert reply["_path"] == "/v3/conversations/a:conv-1/activities/act-1"
        assert reply["text"]  # the text fallback
        card = card_of(reply)
        assert card["type"] == "AdaptiveCard" and card["version"] == CARD_VERSION
        blob = json.dumps(card)
        assert "parent" in blob.lower() and "Crynallt" in blob
        submits = [a for a in card["actions"] if a["type"] == "Action.Submit"]
        assert [a["data"]["helpful"] for a in submits] == [True, False]

    run_teams(kb, scenario)


def test_a_channel_message_with_an_at_mention_is_answered_without_the_mention(kb):
    async def scenario(session, url, connector):
        async with session.post(
            url, json=activity(connector, "can i use the school logo on my own page?", "act-2", mention=True)
        ) as r:
            assert r.status in (200, 201)
        await connector.wait_for(lambda: connector.named("reply"))
        reply = connector.named("reply")[0]
        assert reply["_path"] == "/v3/conversations/19:channel-1@thread.tacv2/activities/act-2"
        card = card_of(reply)
        assert "logo" in json.dumps(card)
        assert "<at>" not in card["body"][0]["text"]

    run_teams(kb, scenario)


def test_feedback_submit_reaches_the_core_and_a_redelivered_activity_is_answered_once(kb, caplog):
    caplog.set_level("INFO", logger="policybot.conversation")

    async def scenario(session, url, connector):
        first = activity(connector, "what happens if i break the social media policy?", "act-3")
        for _ in range(2):
            async with session.post(url, json=first) as r:
                assert r.status in (200, 201)
        submit = activity(
            connector,
            None,
            "act-4",
            value={"action": "feedback", "s": "crynallt", "c": "npt.7.6", "helpful": False},
        )
        async with session.post(url, json=submit) as r:
            assert r.status in (200, 201)
        await connector.wait_for(lambda: len(connector.named("reply")) >= 2)
        await asyncio.sleep(0.2)
        assert len(connector.named("reply")) == 2

    run_teams(kb, scenario)
    assert any("clause=npt.7.6 helpful=False" in r.getMessage() for r in caplog.records)


def test_a_new_member_is_greeted_once(kb):
    async def scenario(session, url, connector):
        update = activity(
            connector,
            None,
            "act-5",
            type="conversationUpdate",
            membersAdded=[{"id": "29:user-2", "name": "Alex"}, BOT],
        )
        for n in range(2):
            async with session.post(url, json={**update, "id": f"act-5{n}"}) as r:
                assert r.status in (200, 201)
        await connector.wait_for(lambda: connector.calls)
        await asyncio.sleep(0.2)
        assert len(connector.calls) == 1
        assert "social media policy" in json.dumps(connector.calls[0][1])

    run_teams(kb, scenario)


def test_with_an_app_id_an_activity_without_a_valid_bearer_token_gets_401(kb):
    settings = Settings(
        microsoft_app_id="00000000-0000-0000-0000-000000000001", microsoft_app_password="secret"
    )

    async def scenario(session, url, connector):
        body = activity(connector, "can i post pics?", "act-6")
        async with session.post(url, json=body) as r:
            assert r.status == 401
        async with session.post(url, json=body, headers={"Authorization": "Bearer not-a-real-token"}) as r:
            assert r.status == 401
        forged = jwt.encode(
            {"iss": "https://api.botframework.com", "aud": settings.microsoft_app_id},
            "guess-a-secret-that-is-long-enough-for-hs256",
            "HS256",
        )
        async with session.post(url, json=body, headers={"Authorization": f"Bearer {forged}"}) as r:
            assert r.status == 401, await r.text()
        await asyncio.sleep(0.2)
        assert connector.calls == []

    run_teams(kb, scenario, settings)


def test_malformed_activities_get_4xx(kb):
    async def scenario(session, url, connector):
        async with session.post(url, data=b"{nope", headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400
        async with session.post(url, data=b"hello", headers={"Content-Type": "text/plain"}) as r:
            assert r.status == 415
        async with session.post(url, json={"no": "type"}) as r:
            assert 400 <= r.status < 500
        for body in (b'["an", "array"]', b'"a string"', b"[" * 30_000 + b"]" * 30_000, b"\xff\xfe{"):
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                assert r.status == 400, body[:20]

    run_teams(kb, scenario)


def test_no_raw_teams_id_is_stored_in_a_processed_event_key(kb, tmp_path):
    from sqlalchemy import select

    from bot.server import RECORDER
    from bot.store import schema

    settings = Settings(teams_no_auth=True, data_dir=tmp_path)

    async def main() -> list[str]:
        connector = await FakeConnector().start()
        app = create_app(Assistant(kb), settings)
        recorder = app[RECORDER]
        try:
            async with serving(app) as base, aiohttp.ClientSession() as session:
                for _ in range(200):
                    if recorder.ready:
                        break
                    await asyncio.sleep(0.05)
                assert recorder.ready
                greeting = activity(
                    connector,
                    None,
                    "act-greet",
                    type="conversationUpdate",
                    membersAdded=[{"id": "29:raw-member-id", "name": "Alex"}, BOT],
                )
                async with session.post(f"{base}/api/messages", json=greeting) as r:
                    assert r.status in (200, 201)
                async with session.post(
                    f"{base}/api/messages", json=activity(connector, "can i post pics?", "act-raw-1")
                ) as r:
                    assert r.status in (200, 201)
                await connector.wait_for(lambda: len(connector.calls) == 2)
                async with recorder.store.engine.connect() as conn:
                    return list((await conn.execute(select(schema.processed_events.c.key))).scalars())
        finally:
            await connector.stop()

    keys = asyncio.run(main())
    assert sorted(k.split(":")[0] for k in keys) == ["teams", "teams-greet"]
    for key in keys:
        kind, digest = key.split(":")
        assert len(digest) == 32 and int(digest, 16) >= 0, key
        for raw in ("raw-member-id", "conv-1", "act-raw-1", "29:"):
            assert raw not in key


PERSONAL = {"id": "a:conv-1", "conversationType": "personal", "tenantId": TENANT}
CHANNEL_ID = "19:channel-1@thread.tacv2"


def in_channel(root: str) -> dict:
    """A channel conversation as the connector names it: the channel, then the reply chain's root message."""
    return {"id": f"{CHANNEL_ID};messageid={root}", "conversationType": "channel", "tenantId": TENANT}


def channel_message(connector: FakeConnector, text: str, activity_id: str, root: str, **extra) -> dict:
    body = activity(connector, text, activity_id, mention=True, **extra)
    body["conversation"] = in_channel(root)
    return body


async def ask(session, url, body: dict) -> None:
    async with session.post(url, json=body) as r:
        assert r.status in (200, 201), await r.text()


def header(reply: dict) -> str:
    return card_of(reply)["body"][0]["text"]


def quote(reply: dict) -> str:
    return next(b for b in card_of(reply)["body"] if b["type"] == "Container")["items"][0]["text"]


FIRST = "a parent added me on fb, should i accept?"
FOLLOW_UP = "what if i knew them way before their kid started here? we're old friends"


def test_the_next_message_in_a_personal_chat_is_read_as_a_follow_up(kb):
    async def scenario(session, url, connector):
        await ask(session, url, activity(connector, FIRST, "p-1"))
        await connector.wait_for(lambda: len(connector.named("reply")) == 1)
        await ask(session, url, activity(connector, FOLLOW_UP, "p-2"))
        await connector.wait_for(lambda: len(connector.named("reply")) == 2)
        # the same words in another person's personal chat: a question on its own
        other = activity(connector, FOLLOW_UP, "p-3", conversation={**PERSONAL, "id": "a:conv-2"})
        other["from"] = {"id": "29:user-2", "name": "Alex", "aadObjectId": "aad-user-2"}
        await ask(session, url, other)
        await connector.wait_for(lambda: len(connector.named("reply")) == 3)
        first, follow_up, alone = connector.named("reply")
        assert header(first).startswith("Crynallt") and "following on" not in header(first)
        assert "following on, you asked: what if i knew them" in header(follow_up)
        assert "following on" not in header(alone)
        # read with the friend request before it, it quotes the rule on parents as friends; alone it cannot
        assert "parents" in quote(follow_up) and quote(follow_up) != quote(alone)
        assert follow_up["_path"] == "/v3/conversations/a:conv-1/activities/p-2"

    run_teams(kb, scenario)


def test_a_reply_in_a_channel_reply_chain_is_a_follow_up_and_a_new_post_is_not(kb):
    async def scenario(session, url, connector):
        await ask(session, url, channel_message(connector, FIRST, "1700000000001", root="1700000000001"))
        await connector.wait_for(lambda: len(connector.named("reply")) == 1)
        # the asker replies in the chain the bot answered in
        await ask(session, url, channel_message(connector, FOLLOW_UP, "1700000000005", root="1700000000001"))
        # and someone else posts the same words as a new top-level post: a chain of its own
        await ask(session, url, channel_message(connector, FOLLOW_UP, "1700000000009", root="1700000000009"))
        await connector.wait_for(lambda: len(connector.named("reply")) == 3)
        first, in_chain, new_post = connector.named("reply")
        assert in_chain["_path"].endswith(";messageid=1700000000001/activities/1700000000005")
        assert "following on" in header(in_chain)
        assert "following on" not in header(new_post)
        assert quote(in_chain) != quote(new_post)

    run_teams(kb, scenario)
