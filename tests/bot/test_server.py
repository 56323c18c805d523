"""The server's own routes: admin input is checked like any other input."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.server import RECORDER, create_app
from bot.settings import Settings
from tests.fakes.servers import serving
from tests.test_storage_server import eventually

ADMIN = {"Authorization": "Bearer s3cret-admin"}


def test_an_impossible_report_period_gets_400_not_500(assistant, tmp_path):
    async def main() -> None:
        app = create_app(assistant, Settings(data_dir=tmp_path, admin_token="s3cret-admin"))
        async with serving(app) as base, aiohttp.ClientSession() as session:
            await eventually(lambda: app[RECORDER].ready)
            for since in ("99999999d", "999999w", "9" * 5000 + "h", "1.5d"):
                async with session.get(f"{base}/admin/report", params={"since": since}, headers=ADMIN) as r:
                    assert r.status == 400, since[:12]
                    assert "period" in (await r.json())["error"]
            async with session.get(f"{base}/admin/report", params={"since": "7d"}, headers=ADMIN) as r:
                assert r.status == 200

    asyncio.run(main())
