"""Slack end to end: signed requests to the real server, answers posted to a fake Slack Web API."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import time
import urllib.parse
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from adapters import slack
from adapters.slack import AckFirstDispatcher, conversation_of, question_text
from adapters.slack_blocks import SECTION_LIMIT, answer_blocks, escape
from bot import Assistant
from bot.server import create_app
from bot.settings import Settings
from tests.fakes.servers import serving
from tests.fakes.slack_api import FakeSlackApi

SECRET = "test-signing-secret"


def sign(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_body(event: dict[str, Any], event_id: str, team: str = FakeSlackApi.TEAM_ID) -> bytes:
    return json.dumps(
        {
            "token": "x",
            "team_id": team,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
    ).encode()


class Harness:
    def __init__(self, session: aiohttp.ClientSession, base: str, slack: FakeSlackApi, app=None):
        self.session, self.base, self.slack, self.app = session, base, slack, app

    async def post(self, body: bytes, headers: dict[str, str], content_type: str = "application/json") -> int:
        async with self.session.post(
            f"{self.base}/slack/events", data=body, headers={**headers, "Content-Type": content_type}
        ) as r:
            await r.read()
            return r.status

    async def event(self, event: dict[str, Any], event_id: str, retry: int | None = None) -> int:
        body = event_body(event, event_id)
        headers = sign(body)
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(body, headers)

    async def form(self, fields: dict[str, str]) -> int:
        body = urllib.parse.urlencode(fields).encode()
        return await self.post(body, sign(body), "application/x-www-form-urlencoded")


def run_slack(
    kb,
    scenario,
    mapping: dict[str, str] | None = None,
    post_delay: float = 0.0,
    assistant=None,
    mapped: bool = True,
    failing: tuple[str, ...] = (),
    **settings: Any,
) -> None:
    """Run `scenario` against the real server wired to a fake Slack; the workspace maps to Wolverhampton.

    `failing`: Web API methods the fake refuses; `settings`: more Settings fields (an escalation channel...).
    """
    workspace = {slack.scope_key("workspaces", FakeSlackApi.TEAM_ID): "wolverhampton"} if mapped else {}
    kb = dataclasses.replace(kb, channel_schools={**workspace, **(mapping or {})})
    assistant = assistant or Assistant(kb)
    assistant.swap(kb)

    async def main() -> None:
        slack = await FakeSlackApi(post_delay, failing).start()
        app = create_app(
            assistant,
            Settings(
                slack_signing_secret=SECRET,
                slack_bot_token="xoxb-test",
                slack_api_url=f"{slack.url}/api/",
                **settings,
            ),
        )
        try:
            async with serving(app) as base, aiohttp.ClientSession() as session:
                await scenario(Harness(session, base, slack, app))
        finally:
            await slack.stop()

    asyncio.run(main())


def mention(text: str, ts: str = "1700000000.000100", **extra) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": "U123",
        "text": f"<@{FakeSlackApi.BOT_USER}> {text}",
        "ts": ts,
        "channel": "C999",
        "event_ts": ts,
        **extra,
    }


def dm(text: str, ts: str, user: str = "U123", channel: str = "D1") -> dict[str, Any]:
    return {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts, "channel": channel}


def button_click(
    action_id: str, value: str, response_url: str, user: str = "U5", channel: str = "C5"
) -> dict:
    """A block_actions payload as Slack sends it when someone clicks a button."""
    return {
        "type": "block_actions",
        "user": {"id": user, "team_id": FakeSlackApi.TEAM_ID},
        "team": {"id": FakeSlackApi.TEAM_ID},
        "api_app_id": "A1",
        "trigger_id": "t",
        "channel": {"id": channel},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button"}],
    }


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", [])) + message.get("text", "")


def test_a_signed_mention_gets_a_threaded_answer_quoting_the_mapped_schools_clause(kb):
    async def scenario(h: Harness):
        assert await h.event(mention("can i be friends with pupils on fb?"), "Ev1") == 200
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        post = h.slack.named("chat.postMessage")[0]
        assert post["channel"] == "C999" and post["thread_ts"] == "1700000000.000100"
        assert "must NOT include pupils" in all_text(post)
        assert "Social Media Policy for school-based employees" in all_text(
            post
        )  # Wolverhampton, the mapped school
        assert post["text"]  # the plain fallback for notifications

    run_slack(kb, scenario)


def test_a_direct_message_is_answered_and_bot_messages_are_ignored(kb):
    async def scenario(h: Harness):
        message = dm("who do i report a breach to?", "1.1")
        assert await h.event(message, "EvDM") == 200
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        assert h.slack.named("chat.postMessage")[0]["channel"] == "D1"
        await h.event({**message, "bot_id": "BOTHER", "ts": "1.2"}, "EvBot")
        await h.event({**message, "subtype": "message_changed", "ts": "1.3"}, "EvEdit")
        await asyncio.sleep(0.3)
        assert len(h.slack.named("chat.postMessage")) == 1

    run_slack(kb, scenario)


def test_in_a_dm_a_sensitive_answer_carries_the_conversation_on_to_the_next_message(kb):
    async def scenario(h: Harness):
        worry = "a parent has been posting horrible things about me on facebook, what do i do?"
        assert await h.event(dm(worry, "2.1", channel="D7"), "EvDmWorry") == 200
        await h.slack.wait_for(lambda: len(h.slack.named("chat.postMessage")) == 1)
        assert await h.event(dm("should i reply to her?", "2.2", channel="D7"), "EvDmNext") == 200
        await h.slack.wait_for(lambda: len(h.slack.named("chat.postMessage")) == 2)
        first, follow = h.slack.named("chat.postMessage")
        assert first["channel"] == follow["channel"] == "D7"  # a DM is answered in the DM, as usual
        assert "follow-up" in all_text(follow) and "Designated Safeguarding Lead" not in all_text(follow)

    run_slack(kb, scenario)


def test_a_retried_event_is_answered_exactly_once(kb):
    async def scenario(h: Harness):
        event = mention("what happens if i break the social media policy?")
        assert await h.event(event, "EvRetry") == 200
        assert await h.event(event, "EvRetry", retry=1) == 200
        assert await h.event(event, "EvRetry", retry=2) == 200
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        await asyncio.sleep(0.3)
        assert len(h.slack.named("chat.postMessage")) == 1

    run_slack(kb, scenario)


def test_unsigned_badly_signed_and_stale_requests_get_401_and_no_answer(kb):
    async def scenario(h: Harness):
        body = event_body(mention("can i post pics?"), "EvBad")
        assert await h.post(body, {}) == 401
        assert await h.post(body, sign(body, secret="wrong-secret")) == 401
        assert await h.post(body, sign(body, timestamp=int(time.time()) - 6 * 60)) == 401
        await asyncio.sleep(0.2)
        assert h.slack.named("chat.postMessage") == []

    run_slack(kb, scenario)


def test_channel_pings_in_a_question_are_never_echoed(kb):
    async def scenario(h: Harness):
        await h.event(mention("<!channel> <!here> <@U999> can i post about work on insta?"), "EvPing")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        text = all_text(h.slack.named("chat.postMessage")[0])
        for special in ("<!channel>", "<!here>", "<@U999>", "<!everyone>"):
            assert special not in text

    run_slack(kb, scenario)


def test_user_text_is_escaped_for_mrkdwn(assistant):
    answer = assistant.ask("can i post <!channel> & <b>stuff</b> on insta?", "howitt")
    blob = json.dumps(answer_blocks(answer))
    assert "<!channel>" not in blob and "&lt;!channel&gt;" in blob and "&amp;" in blob
    assert escape("<@U1> & <!here>") == "&lt;@U1&gt; &amp; &lt;!here&gt;"
    assert question_text("<@UBOT> hi &lt;b&gt; <https://x.test|the link> <!channel>") == "hi <b> the link"


def test_blocks_respect_slack_limits_even_for_long_text(assistant):
    answer = assistant.ask("what is cyberbullying " + "really " * 135, "wolverhampton")
    blocks = answer_blocks(answer, shareable=True)
    assert len(blocks) <= 50
    for block in blocks:
        for text in [block.get("text", {}).get("text", "")] + [
            e.get("text", "") for e in block.get("elements", [])
        ]:
            assert len(text) <= SECTION_LIMIT


def test_slash_command_answers_privately_with_a_share_button_after_the_ack(kb):
    async def scenario(h: Harness):
        fields = {
            "command": "/policy",
            "text": "can i use tiktok at lunch?",
            "team_id": FakeSlackApi.TEAM_ID,
            "user_id": "U5",
            "channel_id": "C5",
            "response_url": f"{h.slack.url}/response/1",
            "trigger_id": "t1",
            "user_name": "sam",
            "team_domain": "fake",
            "channel_name": "general",
        }
        started = time.perf_counter()
        assert await h.form(fields) == 200
        assert time.perf_counter() - started < 3
        await h.slack.wait_for(lambda: h.slack.named("response_url"))
        reply = h.slack.named("response_url")[0]
        assert reply["response_type"] == "ephemeral"
        actions = [e["action_id"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert actions == ["feedback_up", "feedback_down", "handoff", "share_answer"]

    run_slack(kb, scenario, mapping={slack.scope_key("channels", "C5"): "reading"})


def test_buttons_share_in_channel_and_feedback_reaches_the_core(kb, caplog):
    async def scenario(h: Harness):
        value = json.dumps({"s": "reading", "c": "reading.2.1", "q": "can i use tiktok at lunch?"})
        for action_id in ("share_answer", "feedback_down"):
            payload = button_click(action_id, value, f"{h.slack.url}/response/{action_id}")
            assert await h.form({"payload": json.dumps(payload)}) == 200
        await h.slack.wait_for(lambda: len(h.slack.named("response_url")) == 2)
        shared = next(r for r in h.slack.named("response_url") if r.get("response_type") == "in_channel")
        assert "official rest breaks" in all_text(shared)
        thanks = next(r for r in h.slack.named("response_url") if r.get("response_type") == "ephemeral")
        assert thanks["text"] == "Thanks, your feedback is recorded: it helps HR improve the answers."

    caplog.set_level("INFO", logger="policybot.conversation")
    run_slack(kb, scenario)
    feedback = [r.getMessage() for r in caplog.records if r.getMessage().startswith("feedback ")]
    assert feedback and "clause=reading.2.1 helpful=False" in feedback[0] and "U5" not in feedback[0]


def test_app_home_shows_the_school_and_the_picker_remembers_a_choice(kb):
    async def scenario(h: Harness):
        await h.event({"type": "app_home_opened", "user": "U7", "channel": "D7", "tab": "home"}, "EvHome")
        await h.slack.wait_for(lambda: h.slack.named("views.publish"))
        view = h.slack.named("views.publish")[0]["view"]
        assert "Wolverhampton" in json.dumps(view)
        payload = {
            "type": "block_actions",
            "user": {"id": "U7", "team_id": FakeSlackApi.TEAM_ID},
            "team": {"id": FakeSlackApi.TEAM_ID},
            "api_app_id": "A1",
            "trigger_id": "t",
            "view": {"id": "V1", "type": "home"},
            "actions": [
                {
                    "action_id": "choose_school",
                    "block_id": "b",
                    "type": "static_select",
                    "selected_option": {"value": "rutland", "text": {"type": "plain_text", "text": "R"}},
                }
            ],
        }
        assert await h.form({"payload": json.dumps(payload)}) == 200
        await h.slack.wait_for(lambda: len(h.slack.named("views.publish")) == 2)
        assert "Rutland County Council" in json.dumps(h.slack.named("views.publish")[1]["view"])
        await h.event(mention("can i check fb on my phone at work?", user="U7", ts="2.0"), "EvAfterChoice")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        assert "must not use their own equipment" in all_text(h.slack.named("chat.postMessage")[0])

    run_slack(kb, scenario)


@pytest.mark.parametrize("text", ["hi", "help", "hello there"])
def test_greetings_get_help_not_no_match(kb, text):
    async def scenario(h: Harness):
        await h.event(mention(text), f"EvHelp-{text}")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        blob = all_text(h.slack.named("chat.postMessage")[0])
        assert "Try asking" in blob and "does not cover" not in blob

    run_slack(kb, scenario)


def test_unknown_school_asks_which_school_and_school_command_remembers(kb):
    async def scenario(h: Harness):
        message = dm("can i post pics of my class?", "3.1", user="U8", channel="D8")
        await h.event(message, "EvWho")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        assert "Which school are you at?" in all_text(h.slack.named("chat.postMessage")[0])
        await h.event({**message, "text": "school reading", "ts": "3.2"}, "EvSet")
        await h.slack.wait_for(lambda: len(h.slack.named("chat.postMessage")) == 2)
        assert "A Reading Borough Council school" in all_text(h.slack.named("chat.postMessage")[1])

    run_slack(kb, scenario, mapped=False)


def test_the_ack_comes_before_the_answer_is_posted(kb):
    async def scenario(h: Harness):
        started = time.perf_counter()
        assert await h.event(mention("can i be friends with pupils?"), "EvSlowSlack") == 200
        acked = time.perf_counter() - started
        assert acked < 1.0, acked  # Slack's Web API takes 2 s here; the ack must not wait for it
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"), timeout=10)

    run_slack(kb, scenario, post_delay=2.0)


class BrokenAssistant(Assistant):
    def ask(self, question, school_id, context=()):
        raise RuntimeError("index exploded")


def test_an_internal_error_gives_a_short_apology_with_a_contact_and_counts_it(kb, caplog):
    async def scenario(h: Harness):
        await h.event(mention("can i post pics of my class?"), "EvBroken")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        text = all_text(h.slack.named("chat.postMessage")[0])
        assert "Sorry, something went wrong" in text and "the school's HR provider" in text
        assert "Traceback" not in text and "index exploded" not in text
        async with h.session.get(f"{h.base}/metrics") as r:
            assert 'policybot_errors_total{channel="slack",kind="internal"} 1.0' in await r.text()

    run_slack(kb, scenario, assistant=BrokenAssistant(kb))
    assert any("index exploded" in (r.exc_text or "") for r in caplog.records if r.name == "policybot.slack")


def test_answers_are_counted_by_channel_and_status(kb):
    async def scenario(h: Harness):
        await h.event(mention("can i be friends with pupils on fb?"), "EvCount")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        async with h.session.get(f"{h.base}/metrics") as r:
            text = await r.text()
        assert 'policybot_answers_total{channel="slack",status="answered"} 1.0' in text
        assert 'policybot_answer_seconds_count{channel="slack"} 1.0' in text

    run_slack(kb, scenario)


def test_socket_mode_replaces_the_public_route_when_an_app_token_is_set(assistant):
    settings = Settings(slack_signing_secret=SECRET, slack_bot_token="xoxb-t", slack_app_token="xapp-t")
    app = create_app(assistant, settings)
    assert all(r.resource.canonical != "/slack/events" for r in app.router.routes())
    assert len(app.on_startup) >= 1  # connects out to Slack when the server starts


def test_url_verification_gets_its_challenge_back(kb):
    async def scenario(h: Harness):
        body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"}).encode()
        async with h.session.post(
            f"{h.base}/slack/events", data=body, headers={**sign(body), "Content-Type": "application/json"}
        ) as r:
            assert r.status == 200
            assert "c-123" in await r.text()

    run_slack(kb, scenario)


def test_an_ssl_check_gets_an_empty_200_even_malformed_and_with_slacks_api_unreachable(assistant):
    async def main() -> None:
        settings = Settings(
            slack_signing_secret=SECRET, slack_bot_token="xoxb-test", slack_api_url="http://127.0.0.1:9/api/"
        )
        async with (
            serving(create_app(assistant, settings, storage=False)) as base,
            aiohttp.ClientSession() as session,
        ):
            for body in (b"ssl_check=1&token=x", b"ssl_check=%zz%ff"):
                headers = {**sign(body), "Content-Type": "application/x-www-form-urlencoded"}
                async with session.post(f"{base}/slack/events", data=body, headers=headers) as r:
                    assert r.status == 200 and await r.read() == b"", body
            unsigned = b"ssl_check=1"
            async with session.post(f"{base}/slack/events", data=unsigned) as r:
                assert r.status == 401

    asyncio.run(main())


def serve_slack(assistant, scenario) -> None:
    """The server with Slack on, for requests that must be refused before any answer."""

    async def main() -> None:
        slack = await FakeSlackApi().start()
        settings = Settings(
            slack_signing_secret=SECRET, slack_bot_token="xoxb-test", slack_api_url=f"{slack.url}/api/"
        )
        try:
            async with serving(create_app(assistant, settings)) as base, aiohttp.ClientSession() as session:
                await scenario(Harness(session, base, slack))
        finally:
            await slack.stop()

    asyncio.run(main())


def test_a_timestamp_that_is_not_a_plain_integer_gets_401_not_500(assistant):
    async def scenario(h: Harness) -> None:
        body = event_body(dm("can i post?", "1.1"), "EvTs")
        signature = sign(body)["X-Slack-Signature"]
        for timestamp in ("abc", "", "1.5", "9" * 5000, " 12", "-1"):
            headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
            assert await h.post(body, headers) == 401, timestamp[:10]
        await asyncio.sleep(0.2)
        assert h.slack.named("chat.postMessage") == []

    serve_slack(assistant, scenario)


def test_signed_bodies_that_are_not_a_json_object_or_not_utf8_get_400_not_500(assistant):
    async def scenario(h: Harness) -> None:
        cases = [
            (b'["an", "array"]', "application/json"),
            (b'"a string"', "application/json"),
            (b'{"broken": ', "application/json"),
            (b"[" * 30_000 + b"]" * 30_000, "application/json"),
            ('{"text": "caf\u00e9"}'.encode("latin-1"), "application/json"),
            (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
            (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
            (b"payload=%22a+string%22", "application/x-www-form-urlencoded"),
        ]
        for body, content_type in cases:
            assert await h.post(body, sign(body), content_type) == 400, body[:30]
        await asyncio.sleep(0.2)
        assert h.slack.named("chat.postMessage") == []
        # a well-formed signed event still gets its ack
        assert await h.event(dm("can i post?", "9.1"), "EvAfterBad") == 200

    serve_slack(assistant, scenario)


def test_signed_events_and_clicks_of_the_wrong_shape_get_400_and_log_no_error(assistant, caplog):
    async def scenario(h: Harness) -> None:
        def click(**changes) -> bytes:
            payload = {**button_click("feedback_up", '{"i": "x"}', f"{h.slack.url}/response/up"), **changes}
            return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()

        events = [event_body(e, f"EvShape{i}") for i, e in enumerate(({"x": 1}, [1], "x"))]  # type: ignore[arg-type]
        events += [
            event_body(dm(5, "1.1"), "EvShapeText"),  # type: ignore[arg-type]
            event_body({**dm("hi", "1.2"), "thread_ts": 5}, "EvShapeTs"),
            event_body({**dm("hi", "1.3"), "channel": ["C"]}, "EvShapeChannel"),
        ]
        events[0] = json.dumps({**json.loads(events[0]), "event": "x"}).encode()
        for body in events:
            assert await h.post(body, sign(body)) == 400, body[:80]
        clicks = [
            click(actions=[]),
            click(actions="x"),
            click(user="x"),
            click(user=[1]),
            click(actions=[{"action_id": "feedback_up", "value": 5}]),
            click(actions=[{"action_id": "choose_school", "selected_option": "x"}]),
        ]
        for body in clicks:
            assert await h.post(body, sign(body), "application/x-www-form-urlencoded") == 400, body[:80]
        # a click of the right shape whose value is not one of ours is acked and does no harm
        odd = click(
            actions=[{"action_id": "feedback_up", "block_id": "b", "value": "[1, 2]", "type": "button"}]
        )
        assert await h.post(odd, sign(odd), "application/x-www-form-urlencoded") == 200
        await asyncio.sleep(0.3)
        assert await h.event(dm("can i post?", "9.2"), "EvAfterShapes") == 200

    with caplog.at_level("INFO"):
        serve_slack(assistant, scenario)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


def test_each_request_is_verified_once_by_the_front_not_again_by_bolt(assistant):
    # AckFirstDispatcher checks the signature before anything else (the 401 tests above); bolt's own
    # verification middleware would hash the same body a second time.
    from adapters.slack import build_slack_app
    from bot.conversation import Conversation

    app = build_slack_app(
        Conversation(assistant), Settings(slack_signing_secret="s", slack_bot_token="xoxb-1")
    )
    middleware = [type(m).__name__ for m in app._async_middleware_list]
    assert not any("RequestVerification" in name for name in middleware), middleware


# -- conversations: follow-ups in threads, private answers, the hand-off ------------------------------------------
THREAD = "1700000000.000100"


def channel_message(text: str, ts: str, thread_ts: str | None = THREAD, **extra) -> dict[str, Any]:
    """A `message.channels` event: someone writing in a channel (in a thread when `thread_ts` is set)."""
    event = {
        "type": "message",
        "channel_type": "channel",
        "user": "U123",
        "text": text,
        "ts": ts,
        "channel": "C999",
        "event_ts": ts,
    }
    return {**event, **({"thread_ts": thread_ts} if thread_ts else {}), **extra}


def posts_to(h: Harness, channel: str) -> list[dict[str, Any]]:
    return [p for p in h.slack.named("chat.postMessage") if p.get("channel") == channel]


def web_api_calls(h: Harness) -> list[str]:
    """Every Web API call but bolt's own auth.test (who the bot is)."""
    return [name for name, _ in h.slack.calls if name != "auth.test"]


def handoff_button(message: dict[str, Any]) -> dict[str, Any]:
    return next(
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "handoff"
    )


READING_HERE = {slack.scope_key("channels", "C999"): "reading"}


def test_a_reply_in_the_bots_thread_is_a_follow_up_answered_in_that_thread_without_a_mention(kb):
    from bot.server import RECORDER

    async def scenario(h: Harness):
        # The database is up: a thread remembered while it starts is kept in memory, which the database,
        # once up, does not consult
        await h.slack.wait_for(lambda: h.app[RECORDER].ready, timeout=15)
        await h.event(mention("can i go on fb at lunch?"), "EvLunch")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        first = h.slack.named("chat.postMessage")[0]
        assert first["thread_ts"] == THREAD and "official rest breaks" in all_text(first)
        await h.event(channel_message("what about on my own phone?", "1700000050.000200"), "EvFollow")
        await h.slack.wait_for(lambda: len(h.slack.named("chat.postMessage")) == 2)
        follow = h.slack.named("chat.postMessage")[1]
        assert follow["channel"] == "C999" and follow["thread_ts"] == THREAD
        blob = all_text(follow)
        assert "follow-up: what about on my own phone?" in blob  # read in the light of the lunchtime question
        assert "their own computers or devices" in blob  # Reading's own-device clause, not a no-match
        # A reply that mentions the bot comes as app_mention too: the message event must not answer it again.
        await h.event(
            channel_message(f"<@{FakeSlackApi.BOT_USER}> and at break?", "1700000060.000300"), "EvMentionMsg"
        )
        await asyncio.sleep(0.3)
        assert len(h.slack.named("chat.postMessage")) == 2

    run_slack(kb, scenario, mapping=READING_HERE)


def test_channel_chatter_outside_the_bots_threads_gets_nothing(kb):
    async def scenario(h: Harness):
        await h.event(channel_message("can i go on fb at lunch?", "1700000100.000100", None), "EvChat")
        await h.event(
            channel_message("anyone for coffee?", "1700000101.000100", "1700000090.0001"), "EvOther"
        )
        await h.event(
            channel_message("lol", "1700000102.000100", None, channel_type="group", channel="G1"), "EvGroup"
        )
        await h.event(channel_message("edited", "1700000103.0001", subtype="message_changed"), "EvEdited")
        await asyncio.sleep(0.5)
        assert web_api_calls(h) == []

    run_slack(kb, scenario, mapping=READING_HERE)


SAFEGUARDING = "a pupil told me her stepdad hits her, what do i do?"


def test_a_sensitive_question_in_a_channel_is_answered_to_the_asker_alone_by_dm(kb):
    async def scenario(h: Harness):
        await h.event(mention(SAFEGUARDING), "EvSensitive")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        await asyncio.sleep(0.3)
        assert [c["users"] for c in h.slack.named("conversations.open")] == ["U123"]
        assert posts_to(h, "C999") == [] and h.slack.named("chat.postEphemeral") == []
        [private] = h.slack.named("chat.postMessage")
        assert private["channel"] == "DU123"
        blob = all_text(private)
        assert "Designated Safeguarding Lead" in blob and "don't post the details in a shared channel" in blob
        assert private["text"].startswith("A worry about a child")  # the notification names whom to tell
        # the contact leads: before the quoted clause
        assert blob.index("tell your Designated Safeguarding Lead") < blob.index("safeguarding procedure")
        assert "share_answer" not in blob and "Ask the DSL" in blob
        # The same question in a DM is answered there as usual.
        await h.event(dm(SAFEGUARDING, "5.1"), "EvSensitiveDM")
        await h.slack.wait_for(lambda: len(h.slack.named("chat.postMessage")) == 2)
        assert h.slack.named("chat.postMessage")[1]["channel"] == "D1"
        assert len(h.slack.named("conversations.open")) == 1

    run_slack(kb, scenario)


def test_a_sensitive_answer_falls_back_to_an_ephemeral_message_when_no_dm_can_be_opened(kb):
    async def scenario(h: Harness):
        await h.event(mention(SAFEGUARDING), "EvSensitiveNoDM")
        await h.slack.wait_for(lambda: h.slack.named("chat.postEphemeral"))
        await asyncio.sleep(0.3)
        [ephemeral] = h.slack.named("chat.postEphemeral")
        assert (ephemeral["channel"], ephemeral["user"], ephemeral["thread_ts"]) == ("C999", "U123", THREAD)
        assert "Designated Safeguarding Lead" in all_text(ephemeral)
        assert h.slack.named("chat.postMessage") == []

    run_slack(kb, scenario, failing=("conversations.open",))


async def _click_handoff(h: Harness, value: str, user: str = "U123") -> dict[str, Any]:
    count = len(h.slack.named("response_url"))
    payload = button_click("handoff", value, f"{h.slack.url}/response/handoff", user=user, channel="C999")
    assert await h.form({"payload": json.dumps(payload)}) == 200
    await h.slack.wait_for(lambda: len(h.slack.named("response_url")) > count)
    return h.slack.named("response_url")[-1]


def test_the_handoff_button_posts_to_the_escalation_channel_records_it_and_confirms_privately(kb):
    from bot.server import RECORDER

    async def scenario(h: Harness):
        # The database is up (a click claimed while it starts is kept in memory only, and the
        # database would not know it once up)
        await h.slack.wait_for(lambda: h.app[RECORDER].ready, timeout=15)
        await h.event(mention("can i be friends with pupils on fb? &lt;b&gt;"), "EvHandoff")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        answer = h.slack.named("chat.postMessage")[0]
        button = handoff_button(answer)
        assert button["text"]["text"] == "Ask your Headteacher"
        confirmation = await _click_handoff(h, button["value"])
        assert confirmation["response_type"] == "ephemeral" and confirmation["replace_original"] is False
        assert confirmation["text"] == "I've passed your question to your Headteacher; they'll reply to you."
        [posted] = posts_to(h, "CHR")
        blob = all_text(posted)
        assert "<@U123>" in blob and "Wolverhampton" in blob and "Headteacher" in blob
        assert "can i be friends with pupils on fb? &lt;b&gt;" in blob and "<b>" not in blob
        value = json.loads(button["value"])
        assert value["c"] in blob  # the clause the assistant cited
        [escalation] = await h.app[RECORDER].store.escalations()  # in the real SQLite database
        assert (escalation.school, escalation.role, escalation.channel) == (
            "wolverhampton",
            "headteacher",
            "slack",
        )
        assert (escalation.clause_id, escalation.interaction_id) == (value["c"], value["i"])
        assert escalation.question == "can i be friends with pupils on fb? <b>" and escalation.user_hash
        assert "U123" not in escalation.user_hash
        again = await _click_handoff(h, button["value"])  # a second click on the same answer
        assert (
            again["text"] == "You've already passed this question to your Headteacher; they'll reply to you."
        )
        assert len(posts_to(h, "CHR")) == 1 and len(await h.app[RECORDER].store.escalations()) == 1

    run_slack(kb, scenario, slack_escalation_channel="CHR")


def test_without_an_escalation_channel_the_handoff_is_recorded_and_says_how_to_reach_the_contact(kb):
    from bot.server import RECORDER

    async def scenario(h: Harness):
        await h.event(mention("what is the capital of peru?"), "EvNoMatch")
        await h.slack.wait_for(lambda: h.slack.named("chat.postMessage"))
        button = handoff_button(h.slack.named("chat.postMessage")[0])  # a no-match answer has one too
        confirmation = await _click_handoff(h, button["value"])
        text = confirmation["text"]
        assert confirmation["response_type"] == "ephemeral" and "can't pass messages on from here" in text
        assert "I've noted that you'd like an answer from" in text and "contact them directly" in text
        assert web_api_calls(h).count("chat.postMessage") == 1  # only the answer: no hand-off post anywhere
        assert len(await h.app[RECORDER].store.escalations()) == 1
        unknown = json.dumps({"s": "atlantis", "r": "headteacher", "q": "hi"})
        assert "school" in (await _click_handoff(h, unknown))["text"].lower()
        assert len(await h.app[RECORDER].store.escalations()) == 1

    run_slack(kb, scenario)


def test_without_storage_the_handoff_still_tells_the_asker_how_to_reach_the_contact(kb):
    async def scenario(h: Harness):
        value = json.dumps({"s": "wolverhampton", "r": "headteacher", "q": "can i post?"})
        text = (await _click_handoff(h, value))["text"]
        assert text.startswith("This is one for your Headteacher, but I can't pass messages on from here.")
        assert "could not record" not in text

    run_slack(kb, scenario, storage=False)


def test_channel_pings_in_a_handed_off_question_never_reach_the_escalation_post(kb):
    async def scenario(h: Harness):
        # The button value is the client's: it can carry anything, raw.
        value = json.dumps(
            {
                "s": "wolverhampton",
                "r": "headteacher",
                "q": "<!channel> <!here> <@U999> <https://x.test|x> ok?",
            }
        )
        await _click_handoff(h, value)
        await h.slack.wait_for(lambda: posts_to(h, "CHR"))
        blob = all_text(posts_to(h, "CHR")[0])
        for special in ("<!channel>", "<!here>", "<@U999>", "<https://"):
            assert special not in blob
        assert "&lt;!channel&gt;" in blob and "<@U123>" in blob

    run_slack(kb, scenario, slack_escalation_channel="CHR")


def test_button_values_stay_valid_json_within_slacks_limit_for_any_question(assistant):
    answer = assistant.ask("can i post pics on insta?", "wolverhampton")
    # Escaping and JSON's \u escapes make this question many times longer than Slack's 2,000 characters.
    answer = dataclasses.replace(answer, question="can i post <!channel> & café pics? " + "<é>" * 1000)
    for element in answer_blocks(answer)[-1]["elements"]:
        value = element["value"]
        assert len(value) <= 2000
        data = json.loads(value)  # clipped before encoding, never cut mid-JSON
        assert data["s"] == "wolverhampton" and data["q"].startswith("can i post &lt;!channel&gt; &amp; café")
        assert "<!channel>" not in value


def _message(channel: str, text: str, *, im: bool = True, thread_ts: str | None = None) -> SimpleNamespace:
    event = {"type": "message", "channel": channel, "text": text, "user": "U1"}
    event.update({"channel_type": "im"} if im else {"channel_type": "channel"})
    if thread_ts:
        event["thread_ts"] = thread_ts
    return SimpleNamespace(body={"team_id": "T1", "event": event})


def test_messages_of_one_conversation_are_answered_in_the_order_they_came():
    """Two DMs sent together: the follow-up is not answered beside its question, before that is in the thread."""

    class SlowFirst:
        def __init__(self):
            self.log: list[str] = []

        async def async_dispatch(self, request):
            text = request.body["event"]["text"]
            self.log.append(f"start {text}")
            await asyncio.sleep(0.2 if text in ("question", "elsewhere") else 0)
            self.log.append(f"end {text}")

    async def scenario(requests) -> list[str]:
        app = SlowFirst()
        front = AckFirstDispatcher(app, "secret", lambda *_: None, workers=4)
        await front.start(None)
        for request in requests:
            front.queue.put_nowait(request)
        await front.queue.join()
        await front.stop(None)
        assert len(front.conversations) == 0  # nothing kept once a conversation is quiet
        return app.log

    same = asyncio.run(scenario([_message("D1", "question"), _message("D1", "follow-up")]))
    assert same == ["start question", "end question", "start follow-up", "end follow-up"]
    thread = asyncio.run(
        scenario(
            [
                _message("C1", "question", im=False, thread_ts="1.5"),
                _message("C1", "follow-up", im=False, thread_ts="1.5"),
            ]
        )
    )
    assert thread.index("end question") < thread.index("start follow-up")
    apart = asyncio.run(scenario([_message("D1", "elsewhere"), _message("D2", "follow-up")]))
    assert apart.index("end follow-up") < apart.index("end elsewhere")  # other conversations go on meanwhile


def test_only_dms_and_threads_are_put_in_order():
    assert conversation_of(_message("D1", "x").body) == "T1:D1"
    assert conversation_of(_message("C1", "x", im=False, thread_ts="1.5").body) == "T1:C1:1.5"
    assert conversation_of(_message("C1", "x", im=False).body) is None
    assert conversation_of({"type": "block_actions", "actions": []}) is None
    assert conversation_of("not a dict") is None
