"""A client's malformed HTTP costs one WARNING line in the log, never an ERROR with our traceback."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp.http_exceptions import BadHttpMessage

from adapters.clientfaults import ClientFaultFilter
from bot.server import create_app
from bot.settings import Settings
from tests.fakes.servers import serving


def _record(error: BaseException | None, level: int = logging.ERROR) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error else None
    return logging.LogRecord("aiohttp.server", level, __file__, 1, "Error handling request", (), exc_info)


def test_a_clients_malformed_request_becomes_one_warning_line_without_a_traceback():
    record = _record(BadHttpMessage("Invalid header value char"))
    assert ClientFaultFilter().filter(record)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "Invalid header value char" in record.getMessage()


def test_our_own_errors_still_log_as_errors_with_their_traceback():
    record = _record(KeyError("ours"))
    assert ClientFaultFilter().filter(record)
    assert record.levelno == logging.ERROR and record.exc_info is not None


async def _raw(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return status


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: 2\r\n\r\n{}",
    ],
)
def test_malformed_http_gets_400_and_logs_no_error(assistant, caplog, request_bytes: bytes):
    async def main() -> None:
        async with serving(create_app(assistant, Settings(), storage=False)) as base:
            assert b" 400 " in await _raw(base, request_bytes)
            await asyncio.sleep(0.1)  # aiohttp logs after the response has gone
            async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz") as r:
                assert r.status == 200

    with caplog.at_level(logging.INFO):
        asyncio.run(main())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "malformed request refused" in caplog.text
