"""One BLAS thread per answering thread, for the server.

numpy's OpenBLAS starts a thread per core for each matrix product. The server already answers on several
worker threads, and the products are small (an index's example vectors against one question), so each answer's
BLAS threads spun waiting on the others': on this 2-core machine, answers per second at 50 concurrent requests
went from 221 to 352 at the seed and from 122 to 260 at 500 schools with one BLAS thread each (issue 13).
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

_limits = None  # kept, so the limit lasts for the process


def single_threaded() -> None:
    """Limit every BLAS library loaded so far (numpy's) to one thread, for the rest of the process."""
    global _limits
    _limits = threadpool_limits(limits=1, user_api="blas")
