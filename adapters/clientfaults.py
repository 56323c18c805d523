"""A client's malformed HTTP is logged as one line, not as our error with a traceback.

aiohttp answers a malformed request itself (400 for a bad Content-Length, a broken chunk, a body that does not
decode as its Content-Encoding says) and logs it on `aiohttp.server` at ERROR with the whole traceback: any
client could fill the log with our "errors" and bury real ones. Those records become one WARNING line naming
what was wrong; every other record passes unchanged.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

CLIENT_FAULTS = (HttpProcessingError, RequestPayloadError)


class ClientFaultFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None and not isinstance(error, CLIENT_FAULTS):
            error = error.__cause__ or error.__context__
        if error is not None:
            detail = " ".join(str(error).split())
            record.msg, record.args = "malformed request refused: %s", (detail[:200],)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def install(logger_name: str = "aiohttp.server") -> None:
    """Add the filter to aiohttp's server logger, once however many applications are made."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ClientFaultFilter) for f in logger.filters):
        logger.addFilter(ClientFaultFilter())
