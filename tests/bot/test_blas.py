"""The server's BLAS runs one thread per answering thread."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from bot import blas


def test_after_single_threaded_every_blas_pool_has_one_thread():
    assert np.ones((4, 4)) @ np.ones(4) is not None  # numpy's BLAS is loaded
    with threadpool_limits(limits=None):  # leave the test process as it was afterwards
        blas.single_threaded()
        pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert pools and all(p["num_threads"] == 1 for p in pools)
