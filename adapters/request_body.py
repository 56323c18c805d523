"""Reading a request body with a deadline, so a client that sends headers and then stalls cannot hold a handler.

aiohttp waits for a body as long as the client keeps the connection open; a few hundred such connections would
each hold a handler and its memory indefinitely. Every route that reads a body reads it here: past the deadline
the sender gets 408 and the connection is closed (what is left of its body is never read). A body that cannot
be decoded as its Content-Encoding says gets 400, and one over the size cap 413, each with a JSON `error`.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from bot.contract import error_dict


def _json_error(message: str) -> str:
    return json.dumps(error_dict(message))


# The whole body, not each chunk: a trickle of one byte a second must not reset the clock. A question is at most
# a few kilobytes, which any working connection delivers in well under a second.
BODY_READ_TIMEOUT = 10.0


async def read_body(request: web.Request) -> bytes:
    """The request's body; else an HTTP error to raise as it is, its body a JSON `error`:

    - 408 (connection closed) when it takes too long;
    - 400 when it does not decode as its Content-Encoding says ("gzip" on plain text): aiohttp raised its own
      RequestPayloadError, which left the handler as a 500;
    - 413 when it is over the application's size cap (aiohttp's own, which said so in plain text).
    """
    try:
        return await asyncio.wait_for(request.read(), BODY_READ_TIMEOUT)
    except TimeoutError:
        refusal = web.HTTPRequestTimeout(
            text=_json_error(f"The request body did not arrive within {BODY_READ_TIMEOUT:g} seconds."),
            content_type="application/json",
        )
        refusal.force_close()  # the rest of the body may still be on its way: do not read it, hang up
        raise refusal from None
    except RequestPayloadError:
        encoding = request.headers.get("Content-Encoding", "")
        refusal = web.HTTPBadRequest(
            text=_json_error(
                f"The request body could not be decoded as its Content-Encoding ({encoding!r}) says."
            ),
            content_type="application/json",
        )
        refusal.force_close()  # the stream is unreadable past this point: nothing more can come of it
        raise refusal from None
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.client_max_size,
            text=_json_error(f"The request body is over {request.client_max_size:,} bytes."),
            content_type="application/json",
        ) from None
