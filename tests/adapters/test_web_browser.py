"""The web chat in a real headless Chromium, driven over the DevTools Protocol like a person would use it.

Chromium comes from Debian's `chromium` package (`.ci/run` installs it). Without it the test is skipped
locally, but fails under CI=true so a missing browser can never pass silently.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.server import create_app
from bot.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT = 15.0


class Page:
    """Just enough CDP for one page target: commands by id, and the page's uncaught JS exceptions."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.ids, self.pending, self.exceptions = ws, itertools.count(1), {}, []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            future = self.pending.pop(data.get("id"), None)
            if future and not future.done():
                future.set_result(data)
            elif data.get("method") == "Runtime.exceptionThrown":
                self.exceptions.append(data["params"]["exceptionDetails"])
        for future in self.pending.values():
            future.cancel()

    async def send(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        self.pending[msg_id] = asyncio.get_running_loop().create_future()
        await self.ws.send_json({"id": msg_id, "method": method, "params": params})
        reply = await asyncio.wait_for(self.pending[msg_id], TIMEOUT)
        assert "error" not in reply, (method, reply["error"])
        return reply["result"]

    async def js(self, expression: str):
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in result, (expression, result["exceptionDetails"])
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str):
        deadline = time.monotonic() + TIMEOUT
        while not (value := await self.js(expression)):
            assert time.monotonic() < deadline, f"timed out after {TIMEOUT:.0f}s waiting for {what}"
            await asyncio.sleep(0.1)
        return value

    async def click(self, selector: str) -> None:
        """A real mouse click at the element's centre, once it is scrolled into view (the history grows)."""
        box = await self.js(f"(() => {{ const e = document.querySelector({selector!r}); e.scrollIntoView({{block: 'center'}});"
                            " const r = e.getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()")  # fmt: skip
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, button="left", clickCount=1, **box)

    async def type(self, text: str) -> None:
        for char in text:
            await self.send("Input.dispatchKeyEvent", type="keyDown", text=char, key=char)
            await self.send("Input.dispatchKeyEvent", type="keyUp", key=char)

    async def press_enter(self, shift: bool = False) -> None:
        keys = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "modifiers": 8 if shift else 0}
        await self.send("Input.dispatchKeyEvent", type="keyDown", text="\r", **keys)
        await self.send("Input.dispatchKeyEvent", type="keyUp", **keys)

    async def choose(self, selector: str, value: str) -> None:
        """What a person's pick in a <select> amounts to (as Playwright's select_option does it)."""
        await self.js(f"(() => {{ const s = document.querySelector({selector!r}); s.focus(); s.value = {value!r};"
                      " s.dispatchEvent(new Event('input', {bubbles: true}));"
                      " s.dispatchEvent(new Event('change', {bubbles: true})); })()")  # fmt: skip


async def devtools_port(profile: Path, browser: subprocess.Popen, log: Path) -> int:
    deadline = time.monotonic() + TIMEOUT
    port_file = profile / "DevToolsActivePort"
    while True:
        lines = port_file.read_text().splitlines() if port_file.exists() else []
        if len(lines) >= 2 and lines[0].isdigit():
            return int(lines[0])
        if browser.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"Chromium did not open DevTools (exit {browser.poll()}):\n{tail}")
        await asyncio.sleep(0.05)


def kill(browser: subprocess.Popen) -> None:
    """The browser and its renderer/zygote children share the process group it leads (start_new_session)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(browser.pid, sig)
        except ProcessLookupError:
            break
        try:
            browser.wait(5)
            break
        except subprocess.TimeoutExpired:
            continue


def in_browser(assistant, tmp_path: Path, scenario, settings: Settings | None = None) -> None:
    """Serve the real app on loopback, start Chromium on a fresh profile and run `scenario(page, session, base)`
    on its page; the browser and the server are stopped whatever happens."""
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does this in CI)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI is set and {reason}")
        pytest.skip(reason)

    async def main() -> None:
        app = create_app(assistant, settings)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        base = f"http://127.0.0.1:{server.port}"
        profile, log = tmp_path / "chromium-profile", tmp_path / "chromium.log"
        with log.open("wb") as stderr:
            browser = subprocess.Popen(
                [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0"],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            port = await devtools_port(profile, browser, log)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as r:
                    target = next(t for t in await r.json() if t["type"] == "page")
                async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    page = Page(ws)
                    await open_page(page, base)
                    await scenario(page, session, base)
                    assert not page.exceptions, page.exceptions
                    assert await page.js("window.__csp") == []  # the strict policy let everything through
        finally:
            kill(browser)
            await server.close()

    asyncio.run(main())


async def open_page(page: Page, base: str) -> None:
    await page.send("Runtime.enable")
    await page.send("Page.enable")
    # Anything the page's Content-Security-Policy blocks is collected here, and must stay empty.
    await page.send(
        "Page.addScriptToEvaluateOnNewDocument",
        source="window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
    )
    await page.send("Page.navigate", url=f"{base}/")
    await page.wait_for("!!document.querySelector('#school option[value=reading]')", "the school list")


def test_a_person_asks_in_a_real_browser_and_sees_the_clause_citation_and_contacts(assistant, tmp_path):
    screenshot = tmp_path / "answer.png"

    async def scenario(page: Page, session: aiohttp.ClientSession, base: str) -> None:
        await page.choose("#school", "reading")
        await page.click("#question")
        await page.type("can i go on tiktok on the school computer at lunch?")
        typed = await page.js("document.querySelector('#question').value")
        assert typed == "can i go on tiktok on the school computer at lunch?"
        await page.click("#send")
        quote = await page.wait_for("document.querySelector('#quote')?.textContent", "#quote")
        assert "official rest breaks" in quote
        assert "§2.1" in await page.js("document.querySelector('#citation').textContent")
        contacts = await page.js("[...document.querySelectorAll('#contacts li')].map((li) => li.textContent)")
        assert contacts and contacts[0].strip(), contacts
        shot = await page.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))

        # An empty question: the textarea is `required`, so the browser blocks the submit and nothing is sent.
        await page.js("document.querySelector('#question').value = ''")
        await page.click("#send")
        await asyncio.sleep(0.5)
        assert await page.js("document.querySelector('#question').matches(':invalid')")
        assert await page.js("document.querySelector('#quote')?.textContent") == quote
        async with session.get(f"{base}/metrics") as r:
            metrics = await r.text()
        assert 'policybot_questions_total{channel="web"} 1.0' in metrics
        assert "policybot_errors_total{" not in metrics  # an empty question that got through would be a 422

        # A school the server does not know: the page shows the server's own error text.
        await page.js("document.querySelector('#school').append(new Option('Hogwarts', 'hogwarts'))")
        await page.choose("#school", "hogwarts")
        await page.click("#question")
        await page.type("can i post?")
        await page.click("#send")
        message = await page.wait_for("document.querySelector('#message')?.textContent", "#message")
        assert message.startswith("Unknown school 'hogwarts'. Known schools:"), message

    in_browser(assistant, tmp_path, scenario)

    data = screenshot.read_bytes()
    assert len(data) > 1000 and data.startswith(b"\x89PNG\r\n\x1a\n")


ANSWERS = "[...document.querySelectorAll('#history .answer')]"


async def in_order(page: Page, *selectors: str) -> bool:
    """Whether the newest answer shows all of `selectors`, in this order."""
    positions = await page.js(
        f"(() => {{ const card = {ANSWERS}.at(-1), all = [...card.querySelectorAll('*')];"
        f" return {json.dumps(list(selectors))}.map((s) => all.indexOf(card.querySelector(s))); }})()"
    )
    return -1 not in positions and positions == sorted(positions)


def test_a_conversation_in_the_browser_keeps_its_history_reads_follow_ups_and_hands_off(assistant, tmp_path):
    from bot.store import Store, database_url_for

    settings = Settings.from_env({"POLICYBOT_DATA_DIR": str(tmp_path / "data")})

    async def answers(page: Page, count: int) -> list[dict]:
        await page.wait_for(f"{ANSWERS}.length === {count}", f"answer {count}")
        return await page.js(
            f"{ANSWERS}.map((a) => ({{status: a.dataset.status, followUp: a.dataset.followUp,"
            " text: a.textContent}))"
        )

    async def scenario(page: Page, session: aiohttp.ClientSession, base: str) -> None:
        await page.choose("#school", "reading")
        await page.click("#question")
        # Shift+Enter is a new line in the question; Enter sends it.
        await page.type("can i go on fb")
        await page.press_enter(shift=True)
        await page.type("at lunch?")
        assert await page.js("document.querySelector('#question').value") == "can i go on fb\nat lunch?"
        assert await page.js(f"{ANSWERS}.length") == 0
        await page.press_enter()
        [first] = await answers(page, 1)
        assert first["status"] == "answered" and first["followUp"] == "false"
        assert await page.js("document.querySelector('#question').value") == ""

        await page.type("what about on my own phone?")
        await page.press_enter()
        first, second = await answers(page, 2)
        assert (
            second["status"] == "answered" and second["followUp"] == "true"
        )  # read in the light of the first
        assert "follow-up" in second["text"]
        # The history, in order: each question above its answer.
        turns = await page.js(
            "[...document.querySelectorAll('#history .question, #history .answer')]"
            ".map((n) => n.classList.contains('question') ? 'Q: ' + n.textContent : 'A: ' + n.dataset.status)"
        )
        assert turns == [
            "Q: can i go on fb\nat lunch?",
            "A: answered",
            "Q: what about on my own phone?",
            "A: answered",
        ]
        # Only the newest answer carries the ids.
        assert await page.js("document.querySelectorAll('#quote').length") == 1
        assert await page.js(f"{ANSWERS}.at(-1).contains(document.querySelector('#quote'))")

        # A vote disables both buttons and shows the server's own message.
        await page.click("#vote-up")
        said = await page.wait_for(
            "document.querySelector('#feedback-thanks').textContent", "the vote's reply"
        )
        assert said == "Thanks, your feedback is recorded: it helps HR improve the answers."
        assert await page.js(
            "document.querySelector('#vote-up').disabled && document.querySelector('#vote-down').disabled"
        )

        # The hand-off button posts the question and shows the confirmation; it cannot be pressed twice.
        label = await page.js("document.querySelector('#handoff').textContent")
        assert label == "Ask your line manager"
        await page.click("#handoff")
        said = await page.wait_for(
            "document.querySelector('#handoff-status').textContent", "the hand-off's reply"
        )
        assert said.startswith("Your question is recorded for your line manager. To reach them now:"), said
        assert await page.js("document.querySelector('#handoff').disabled")

        # A worry about a child: what to do and whom to tell, then the note about shared channels; its hand-off.
        await page.click("#question")
        await page.type("a pupil told me her mum's boyfriend hurts her, who do i tell")
        await page.press_enter()
        *_, third = await answers(page, 3)
        assert third["status"] == "answered"
        assert await in_order(page, "#message", "#privacy-note")
        assert "shared channel" in await page.js("document.querySelector('#privacy-note').textContent")
        assert await page.js("document.querySelector('#handoff').textContent") == "Ask the DSL"

        # Small talk: a greeting, with examples that ask themselves when clicked.
        await page.type("hi")
        await page.press_enter()
        *_, help_card = await answers(page, 4)
        assert help_card["status"] == "help"
        examples = await page.js(
            "[...document.querySelectorAll('#examples .example')].map((b) => b.textContent)"
        )
        assert len(examples) == 3
        await page.click("#examples .example")
        *_, asked = await answers(page, 5)
        assert asked["status"] == "answered"
        assert (
            await page.js("[...document.querySelectorAll('#history .question')].at(-1).textContent")
            == examples[0]
        )

        # Another school is another conversation: the same follow-up is not read with the earlier questions.
        thread = await page.js("JSON.parse(sessionStorage.getItem('policybot.thread')).id")
        await page.choose("#school", "howitt")
        assert await page.js("JSON.parse(sessionStorage.getItem('policybot.thread')).id") != thread
        await page.click("#question")
        await page.type("what about on my own phone?")
        await page.press_enter()
        *_, other = await answers(page, 6)
        assert other["followUp"] == "false"
        # A sensitive answer with a clause: what to do first, then the quote, then the privacy note.
        await page.type("someone is abusing me online, who do i tell?")
        await page.press_enter()
        *_, sensitive = await answers(page, 7)
        assert sensitive["status"] == "answered"
        assert await in_order(page, "#lead", "#quote", "#privacy-note")

        store = Store(database_url_for(settings))
        try:
            [escalation] = await store.escalations()
        finally:
            await store.close()
        assert (escalation.school, escalation.channel, escalation.role) == ("reading", "web", "line_manager")
        assert escalation.question == "what about on my own phone?"

    in_browser(assistant, tmp_path, scenario, settings)
