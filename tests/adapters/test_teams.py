"""Teams end to end: Bot Framework activities to the real server, replies to a fake connector."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt

from adapters import teams
from adapters.teams_cards import CARD_VERSION, CONTENT_TYPE, plain
from bot import Assistant
from bot.server import create_app
from bot.settings import Settings
from tests.adapters.test_teams_cards import texts
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


def run_teams(
    kb,
    scenario,
    settings: Settings | Callable[[FakeConnector], Settings] | None = None,
    connector: FakeConnector | None = None,
) -> None:
    """Run `scenario(session, url, connector)` against the server; `settings` may be made from the connector
    (for a TEAMS_SERVICE_URL that points at it)."""
    kb = dataclasses.replace(kb, channel_schools={teams.scope_key("tenants", TENANT): "crynallt"})

    async def main() -> None:
        fake = connector or FakeConnector()
        await fake.start()
        chosen = settings(fake) if callable(settings) else settings
        try:
            async with (
                serving(create_app(Assistant(kb), chosen or Settings(teams_no_auth=True))) as base,
                aiohttp.ClientSession() as session,
            ):
                await scenario(session, f"{base}/api/messages", fake)
        finally:
            await fake.stop()

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
        assert [a["data"]["action"] for a in submits] == ["feedback", "feedback", "handoff"]
        assert [a["data"]["helpful"] for a in submits[:2]] == [True, False]

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


def _unsigned_rs256(claims: dict) -> str:
    """A token that names RS256 but was signed by no one: what a forger can make without Microsoft's keys."""
    part = lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'RS256', 'kid': 'k1'})}.{part(claims)}.c2ln"


def test_a_forged_token_or_an_unreadable_activity_is_refused_with_a_4xx_never_a_5xx(kb):
    settings = Settings(
        microsoft_app_id="00000000-0000-0000-0000-000000000001", microsoft_app_password="secret"
    )

    async def scenario(session, url, connector):
        good = activity(connector, "can i post pics?", "act-forged")
        # botbuilder reads the issuer before it checks anything: without one it raised KeyError
        no_issuer = {"Authorization": f"Bearer {_unsigned_rs256({'aud': 'x'})}"}
        async with session.post(url, json=good, headers=no_issuer) as r:
            assert r.status == 401, await r.text()
        for field, value in (("from", [1]), ("conversation", "x"), ("entities", "x"), ("membersAdded", "x")):
            async with session.post(url, json={**good, field: value}, headers=no_issuer) as r:
                assert r.status == 400, (field, await r.text())
                assert "error" in await r.json()
        await asyncio.sleep(0.2)
        assert connector.calls == []

    run_teams(kb, scenario, settings)


def test_activities_botbuilder_can_read_but_we_cannot_answer_get_400_not_a_turn_error(kb, caplog):
    async def scenario(session, url, connector):
        good = activity(connector, "can i post pics?", "act-odd")
        for changes in (
            {"conversation": None},
            {"entities": [{"type": "mention", "mentioned": "x"}]},
            {"channelData": "x"},
            {"channelData": {"tenant": "x"}},
        ):
            async with session.post(url, json={**good, **changes}) as r:
                assert r.status == 400, (changes, await r.text())
        invoke = {**good, "type": "invoke", "name": "adaptiveCard/action", "value": {"action": {"data": "x"}}}
        async with session.post(url, json=invoke) as r:
            assert r.status == 400, await r.text()
        async with session.post(url, json=good) as r:  # and the next real message is answered as ever
            assert r.status in (200, 201)

    with caplog.at_level("ERROR"):
        run_teams(kb, scenario)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


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


FIRST = "can i go on fb at lunch?"
FOLLOW_UP = "what about on my own phone?"


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
        assert "following on, you asked: what about on my own phone?" in header(follow_up)
        assert "following on" not in header(alone)
        # read as "can I go on Facebook at lunch on my own phone?": the rule on personal use in working hours
        assert "mobile phone" in quote(follow_up)
        assert follow_up["_path"] == "/v3/conversations/a:conv-1/activities/p-2"

    run_teams(kb, scenario)


def test_in_a_personal_chat_a_sensitive_answer_carries_the_conversation_on(kb):
    async def scenario(session, url, connector):
        worry = "a parent has been posting horrible things about me on facebook, what do i do?"
        await ask(session, url, activity(connector, worry, "s-1"))
        await connector.wait_for(lambda: len(connector.named("reply")) == 1)
        await ask(session, url, activity(connector, "should i reply to her?", "s-2"))
        await connector.wait_for(lambda: len(connector.named("reply")) == 2)
        first, follow = connector.named("reply")
        assert first["_path"] == "/v3/conversations/a:conv-1/activities/s-1"  # answered in the chat, as usual
        assert "following on, you asked: should i reply to her?" in header(follow)

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
        assert "mobile phone" in quote(in_chain)

    run_teams(kb, scenario)


WORRY = "I'm worried a pupil in my class is being groomed online, who do I tell?"


def all_text(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_a_sensitive_question_in_a_channel_is_answered_privately_and_the_channel_sees_nothing(kb):
    async def scenario(session, url, connector):
        await ask(session, url, channel_message(connector, WORRY, "1700000000100", root="1700000000100"))
        await connector.wait_for(lambda: connector.named("send"))
        await asyncio.sleep(0.2)
        assert connector.named("reply") == []  # nothing at all in the channel
        (create,) = connector.named("create")
        assert create["isGroup"] is False and create["tenantID"] == TENANT
        assert [m["id"] for m in create["members"]] == ["29:user-1"] and create["bot"]["id"] == BOT["id"]
        assert create["channelData"] == {"tenant": {"id": TENANT}}
        (private,) = connector.named("send")
        assert private["_path"] == "/v3/conversations/a:personal-1/activities"
        assert "replyToId" not in private or private["replyToId"] is None
        body = card_of(private)["body"]
        # it leads with the contact for the matter, the Designated Safeguarding Lead, then asks for discretion
        assert "Designated Safeguarding Lead" in body[1]["text"] and body[1]["weight"] == "Bolder"
        assert "don't post the details in a shared channel" in body[2]["text"]
        assert "groomed" in body[0]["text"]  # the asker's own words, in their own chat only

    run_teams(kb, scenario)


def test_when_the_bot_cannot_message_the_asker_the_channel_gets_a_neutral_line_only(kb):
    async def scenario(session, url, connector):
        await ask(session, url, channel_message(connector, WORRY, "1700000000200", root="1700000000200"))
        await connector.wait_for(lambda: connector.named("reply"))
        await asyncio.sleep(0.2)
        assert len(connector.named("create")) == 1 and connector.named("send") == []
        (line,) = connector.named("reply")
        assert line["text"] == teams.ASK_PRIVATELY and not line.get("attachments")
        for word in ("pupil", "groom", "Safeguarding", "DSL", "worried"):
            assert word.lower() not in all_text(line).lower()

    run_teams(kb, scenario, connector=FakeConnector(refuse_personal_chats=True))


def handoff_of(reply: dict) -> dict:
    (button,) = [a for a in card_of(reply)["actions"] if a.get("data", {}).get("action") == "handoff"]
    return button


ESCALATIONS = "19:hr-escalations@thread.tacv2"
QUESTION = "can i post photos of the school play on my facebook?"


def escalating(connector: FakeConnector, **more) -> Settings:
    return Settings(
        teams_no_auth=True,
        teams_escalation_conversation=ESCALATIONS,
        teams_service_url=f"{connector.url}/",
        **more,
    )


def test_a_hand_off_is_posted_to_the_escalation_conversation_mentioning_the_asker_and_confirmed(kb):
    async def scenario(session, url, connector):
        await ask(session, url, activity(connector, QUESTION, "h-1"))
        await connector.wait_for(lambda: connector.named("reply"))
        button = handoff_of(connector.named("reply")[0])
        await ask(session, url, activity(connector, None, "h-2", value=button["data"]))
        await connector.wait_for(lambda: len(connector.named("reply")) == 2 and connector.named("send"))
        (posted,) = connector.named("send")
        assert posted["_path"] == f"/v3/conversations/{ESCALATIONS}/activities"
        card = card_of(posted)
        shown = all_text(card)
        assert "Crynallt" in shown and QUESTION in shown
        # the clause the answer cited, as plain text (a clause id from the button is the asker's to change)
        assert button["data"]["c"] and any(plain(button["data"]["c"]) in t for t in texts(card))
        assert in_sentence_of(button["title"]) in shown.lower()  # who it is for
        assert "<at>Sam</at>" in shown
        assert card["msteams"]["entities"] == [
            {"type": "mention", "text": "<at>Sam</at>", "mentioned": {"id": "29:user-1", "name": "Sam"}}
        ]
        confirmation = connector.named("reply")[1]
        assert confirmation["_path"] == "/v3/conversations/a:conv-1/activities/h-2"
        assert confirmation["text"].startswith("I've passed your question to")

    run_teams(kb, scenario, escalating)


def in_sentence_of(label: str) -> str:
    """ "Ask your Headteacher" -> "headteacher": the contact the button names, as the card writes it."""
    return label.split()[-1].lower()


def test_a_hand_off_clicked_in_a_channel_is_confirmed_to_the_asker_alone(kb):
    async def scenario(session, url, connector):
        await ask(session, url, channel_message(connector, QUESTION, "1700000000300", root="1700000000300"))
        await connector.wait_for(lambda: connector.named("reply"))
        data = handoff_of(connector.named("reply")[0])["data"]
        submit = channel_message(connector, None, "1700000000301", root="1700000000300", value=data)
        submit.pop("entities")
        await ask(session, url, submit)
        await connector.wait_for(lambda: len(connector.named("send")) == 2)
        await asyncio.sleep(0.2)
        assert len(connector.named("reply")) == 1  # the answer; the confirmation went to the asker's own chat
        paths = sorted(p["_path"] for p in connector.named("send"))
        assert paths == [
            f"/v3/conversations/{ESCALATIONS}/activities",
            "/v3/conversations/a:personal-1/activities",
        ]
        private = next(p for p in connector.named("send") if "personal" in p["_path"])
        assert private["text"].startswith("I've passed your question to")

    run_teams(kb, scenario, escalating)


def test_without_an_escalation_conversation_the_hand_off_is_recorded_and_the_asker_told_whom_to_contact(
    kb, tmp_path
):
    from bot.server import RECORDER
    from bot.store import Store, database_url_for

    settings = Settings(teams_no_auth=True, data_dir=tmp_path)
    kb = dataclasses.replace(kb, channel_schools={teams.scope_key("tenants", TENANT): "crynallt"})

    async def main() -> tuple[dict, list]:
        connector = await FakeConnector().start()
        app = create_app(Assistant(kb), settings)
        try:
            async with serving(app) as base, aiohttp.ClientSession() as session:
                url = f"{base}/api/messages"
                for _ in range(200):
                    if app[RECORDER].ready:
                        break
                    await asyncio.sleep(0.05)
                await ask(session, url, activity(connector, QUESTION, "n-1"))
                await connector.wait_for(lambda: connector.named("reply"))
                button = handoff_of(connector.named("reply")[0])
                await ask(session, url, activity(connector, None, "n-2", value=button["data"]))
                await connector.wait_for(lambda: len(connector.named("reply")) == 2)
                assert connector.named("send") == []  # nowhere to post it
        finally:
            await connector.stop()
        store = Store(database_url_for(settings))
        try:
            return button, connector.named("reply")[1], await store.escalations()
        finally:
            await store.close()

    button, confirmation, escalations = asyncio.run(main())
    text = confirmation["text"]
    assert text.startswith("I've noted that you'd like to ask") and "Please contact them directly" in text
    assert in_sentence_of(button["title"]) in text.lower() and "Crynallt" in text
    (escalation,) = escalations
    assert (escalation.school, escalation.channel, escalation.role) == (
        "crynallt",
        "teams",
        button["data"]["r"],
    )
    assert escalation.question == QUESTION and escalation.clause_id == button["data"]["c"]
    assert escalation.interaction_id == button["data"]["i"] and escalation.user_hash
    assert "user-1" not in escalation.user_hash


def test_each_kind_of_teams_conversation_has_the_thread_key_a_follow_up_needs():
    from botbuilder.schema import Activity

    def thread(conversation: dict, user: str = "29:user-1", **more) -> str | None:
        body = {"type": "message", "id": "1700000000042", "from": {"id": user}, "conversation": conversation}
        return teams._thread(Activity().deserialize({**body, **more}))

    assert thread(PERSONAL) == thread(PERSONAL) == "teams:a:conv-1"
    assert thread(in_channel("1700000000001")) == f"teams:{CHANNEL_ID};messageid=1700000000001"
    assert thread(in_channel("1700000000001")) != thread(in_channel("1700000000009"))
    bare = {"id": CHANNEL_ID, "conversationType": "channel"}  # the chain's root left out: the reply's parent
    assert thread(bare, replyToId="1700000000001") == thread(in_channel("1700000000001"))
    group = {"id": "19:group-1@thread.v2", "conversationType": "groupChat", "tenantId": TENANT}
    assert thread(group) == thread(group) != thread(group, user="29:user-2")
    assert thread({"conversationType": "personal"}) is None
