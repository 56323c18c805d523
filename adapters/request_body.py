"""Reading a request body with a deadline, so a client that sends headers and then stalls cannot hold a handler.

aiohttp waits for a body as long as the client keeps the connection open; a few hundred such connections would
each hold a handler and its memory indefinitely. Every route that reads a body reads it here: past the deadline
the sender gets 408 and the connection is closed (what is left of its body is never read).
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bot.contract import error_dict

# The whole body, not each chunk: a trickle of one byte a second must not reset the clock. A question is at most
# a few kilobytes, which any working connection delivers in well under a second.
BODY_READ_TIMEOUT = 10.0


async def read_body(request: web.Request) -> bytes:
    """The request's body; `HTTPRequestTimeout` (408, a JSON `error`, connection closed) if it takes too long.

    aiohttp's own 413 for a body over the application's size cap passes through unchanged.
    """
    try:
        return await asyncio.wait_for(request.read(), BODY_READ_TIMEOUT)
    except TimeoutError:
        refusal = web.HTTPRequestTimeout(
            text=json.dumps(
                error_dict(f"The request body did not arrive within {BODY_READ_TIMEOUT:g} seconds.")
            ),
            content_type="application/json",
        )
        refusal.force_close()  # the rest of the body may still be on its way: do not read it, hang up
        raise refusal from None
