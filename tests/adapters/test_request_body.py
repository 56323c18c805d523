"""A client that sends its headers and then stalls gets 408 on every route that reads a body, and the server
goes on answering everyone else meanwhile."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from adapters import request_body
from bot.server import create_app
from bot.settings import Settings
from tests.fakes.servers import serving

TIMEOUT = 0.5


async def stalled_request(base: str, path: str) -> tuple[int, float, dict[str, str], bytes]:
    """POST `path` announcing a 1,000-byte body, send 10 bytes of it and stop; the response's status, when it
    came, its headers and its body."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.perf_counter()
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n".encode()
        + b'{"school":'
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    elapsed = time.perf_counter() - started
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    writer.close()
    return int(status_line.split()[1]), elapsed, headers, body


@pytest.mark.parametrize("path", ["/api/ask", "/api/feedback", "/api/messages", "/slack/events"])
def test_a_body_that_stalls_gets_408_and_the_connection_is_closed(assistant, monkeypatch, path: str):
    monkeypatch.setattr(request_body, "BODY_READ_TIMEOUT", TIMEOUT)
    settings = Settings(
        teams_no_auth=True,
        slack_signing_secret="s3cret",
        slack_bot_token="xoxb-test",
        slack_api_url="http://127.0.0.1:9/api/",
    )

    async def main() -> None:
        async with serving(create_app(assistant, settings, storage=False)) as base:
            status, elapsed, headers, body = await stalled_request(base, path)
        assert status == 408
        assert TIMEOUT <= elapsed < TIMEOUT + 2
        # the rest of the body is not waited for: aiohttp hangs up (after at most its 10 s lingering time)
        assert headers["connection"] == "close"
        assert json.loads(body)["error"] == "The request body did not arrive within 0.5 seconds."

    asyncio.run(main())


def test_other_requests_are_answered_while_stalled_bodies_wait(assistant, monkeypatch):
    monkeypatch.setattr(request_body, "BODY_READ_TIMEOUT", 2.0)

    async def main() -> None:
        async with serving(create_app(assistant, Settings(), storage=False)) as base:
            stalled = [asyncio.create_task(stalled_request(base, "/api/ask")) for _ in range(20)]
            await asyncio.sleep(0.2)  # every stalled request is waiting on its body
            async with aiohttp.ClientSession() as session:
                started = time.perf_counter()
                for _ in range(5):
                    async with session.post(
                        f"{base}/api/ask",
                        json={"school": "reading", "question": "can i use tiktok at lunch?"},
                    ) as r:
                        assert r.status == 200
                served_in = time.perf_counter() - started
            assert not any(task.done() for task in stalled)  # answered while they were still waiting
            assert served_in < 1.5
            assert [status for status, *_ in await asyncio.gather(*stalled)] == [408] * 20

    asyncio.run(main())


def test_a_body_that_arrives_in_time_is_read_whole(assistant, monkeypatch):
    monkeypatch.setattr(request_body, "BODY_READ_TIMEOUT", TIMEOUT)

    async def main() -> None:
        question = {"school": "reading", "question": "can i use tiktok at lunch?"}
        async with (
            serving(create_app(assistant, Settings(), storage=False)) as base,
            aiohttp.ClientSession() as session,
            session.post(f"{base}/api/ask", json=question) as r,
        ):
            assert r.status == 200 and (await r.json())["status"] == "answered"

    asyncio.run(main())


SLACK = Settings(
    teams_no_auth=True,
    slack_signing_secret="s3cret",
    slack_bot_token="xoxb-test",
    slack_api_url="http://127.0.0.1:9/api/",
)


@pytest.mark.parametrize(
    "path", ["/api/ask", "/api/feedback", "/api/escalate", "/api/messages", "/slack/events"]
)
def test_a_body_that_does_not_decode_as_its_content_encoding_says_gets_400_not_500(assistant, path: str):
    async def main() -> None:
        body = b'{"school": "reading", "question": "can i use tiktok at lunch?"}'
        async with (
            serving(create_app(assistant, SLACK, storage=False)) as base,
            aiohttp.ClientSession() as session,
        ):
            for encoding in ("gzip", "deflate"):
                headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
                async with session.post(f"{base}{path}", data=body, headers=headers) as r:
                    assert r.status == 400, (encoding, await r.text())
                    assert encoding in (await r.json())["error"]
            async with session.post(
                f"{base}/api/ask", data=body, headers={"Content-Type": "application/json"}
            ) as r:
                assert r.status == 200  # the server goes on

    asyncio.run(main())


@pytest.mark.parametrize(
    "path", ["/api/ask", "/api/feedback", "/api/escalate", "/api/messages", "/slack/events"]
)
def test_a_body_over_the_size_cap_gets_413_with_a_json_error_on_every_route(assistant, path: str):
    async def main() -> None:
        async with (
            serving(create_app(assistant, SLACK, storage=False)) as base,
            aiohttp.ClientSession() as session,
            session.post(
                f"{base}{path}", data=b"a" * 2_000_000, headers={"Content-Type": "application/json"}
            ) as r,
        ):
            assert r.status == 413
            assert (await r.json())["error"]

    asyncio.run(main())
