"""Open a page in headless Chromium as a person would, and report what happened.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: the
browser reads commands on fd 3 and writes replies and events on fd 4, NUL-separated JSON),
so no port is opened and no client library is needed. One visit records every request the
page made, every console message and log entry, what the DOM says about each chart, and a
screenshot of the whole page.

``python -m tests.browser REPORT.html OUT.png`` takes the screenshot alone, in 64 colours
(how ``docs/report.png`` is made from the demo's ``output/archive.report.html``).
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where to look for the browser; ``HARVESTER_CHROMIUM`` names another.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    named = os.environ.get("HARVESTER_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The pipe's ends moved to fds 10 and above, clear of the 3 and 4 the browser needs."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved[0], moved[1]


class BrowserError(RuntimeError):
    """The browser did not answer, or answered with an error."""


class DevTools:
    """One Chromium process and its protocol pipe."""

    def __init__(self, executable: str, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory(prefix="harvester-chromium-")
        self.log = tempfile.TemporaryFile()
        commands_read, self._commands = _high(os.pipe())
        self._replies, replies_write = _high(os.pipe())
        flags = [
            "--headless=new", "--remote-debugging-pipe", f"--user-data-dir={self.profile.name}",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-gpu",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--force-color-profile=srgb",
        ]  # fmt: skip
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium will not start its sandbox as root (as in CI)
        # The pipe must be fds 3 and 4 in the browser: bash moves them there, then execs it.
        remap = f'exec "$@" 3<&{commands_read} 4>&{replies_write} {commands_read}<&- {replies_write}>&-'
        bash = shutil.which("bash") or "/bin/bash"
        self.process = subprocess.Popen(
            [bash, "-c", remap, "chromium", executable, *flags, "about:blank"],
            pass_fds=(commands_read, replies_write), stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log,
        )  # fmt: skip
        os.close(commands_read)
        os.close(replies_write)
        self._next_id = 0
        self._replies_by_id: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="devtools-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._replies, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies_by_id[message["id"]] = message
                    else:
                        self.events.append(message)
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while self._next_id not in self._replies_by_id:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"no answer to {method}: {self.stderr()[-2000:]}")
                self._cond.wait(left)
            reply = self._replies_by_id.pop(self._next_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, method: str, session: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                for event in self.events:
                    if event.get("method") == method and (
                        session is None or event.get("sessionId") == session
                    ):
                        return event
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"no {method} event: {self.stderr()[-2000:]}")
                self._cond.wait(left)

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close")
                except (BrowserError, OSError):
                    pass
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            for fd in (self._commands, self._replies):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._reader.join(timeout=5)
            self.log.close()
            self.profile.cleanup()


@contextmanager
def chromium(executable: str, *, timeout: float = 60.0) -> Iterator[DevTools]:
    browser = DevTools(executable, timeout=timeout)
    try:
        yield browser
    finally:
        browser.close()


#: Facts about each chart figure of a report, read in the page (JSON back to Python).
CHART_FACTS = """
Array.from(document.querySelectorAll('figure[data-chart]')).map(fig => {
  const svg = fig.querySelector('.plot svg');
  const box = svg ? svg.getBoundingClientRect() : null;
  return {
    key: fig.dataset.chart,
    svg: !!svg,
    marks: svg ? svg.querySelectorAll('path, rect, use').length : 0,
    texts: svg ? Array.from(svg.querySelectorAll('text')).map(t => t.textContent.trim()) : [],
    box: box ? {x: box.left + window.scrollX, y: box.top + window.scrollY, width: box.width, height: box.height} : null,
    tableRows: fig.querySelectorAll('.numbers table tbody tr').length,
    tableText: fig.querySelector('.numbers') ? fig.querySelector('.numbers').innerText : '',
  };
})
"""


@dataclass
class Visit:
    """What one visit of a page showed."""

    url: str
    requests: list[str] = field(default_factory=list)
    console: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    log_entries: list[dict[str, Any]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    screenshot: bytes = b""
    width: int = 0
    height: int = 0

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, and error log entries (CSP, failed loads)."""
        found = [json.dumps(m.get("args")) for m in self.console if m.get("type") in ("error", "assert")]
        found += [json.dumps(e.get("exceptionDetails", {}).get("text")) for e in self.exceptions]
        found += [f"{e.get('source')}: {e.get('text')} {e.get('url', '')}" for e in self.log_entries
                  if e.get("level") == "error"]  # fmt: skip
        return found


def visit(executable: str, page: Path, *, width: int = 1280, timeout: float = 60.0) -> Visit:
    """Open ``page`` (a file) in a fresh headless Chromium; take a full-page screenshot."""
    url = page.resolve().as_uri()
    result = Visit(url=url)
    with chromium(executable, timeout=timeout) as browser:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)  # fmt: skip
        browser.events.clear()
        browser.send("Page.navigate", {"url": url}, session=session)
        browser.wait_for("Page.loadEventFired", session)
        time.sleep(0.3)  # late console messages or requests, if any, arrive now
        facts = browser.send(
            "Runtime.evaluate", {"expression": CHART_FACTS, "returnByValue": True}, session=session
        )
        result.charts = facts["result"]["value"]
        title = browser.send(
            "Runtime.evaluate", {"expression": "document.title", "returnByValue": True}, session=session
        )
        result.title = title["result"]["value"]
        size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        result.width, result.height = int(size["width"]), int(size["height"])
        shot = browser.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True,
             "clip": {"x": 0, "y": 0, "width": result.width, "height": result.height, "scale": 1}},
            session=session,
        )  # fmt: skip
        result.screenshot = base64.b64decode(shot["data"])
        for event in browser.events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            method = event.get("method")
            if method == "Network.requestWillBeSent":
                result.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled":
                result.console.append(params)
            elif method == "Runtime.exceptionThrown":
                result.exceptions.append(params)
            elif method == "Log.entryAdded":
                result.log_entries.append(params["entry"])
    return result


#: Each table box of a report: how tall its table is, and how much of it the box shows.
TABLE_BOXES = """
Array.from(document.querySelectorAll('.numbers')).map(box => ({
  chart: box.closest('figure') ? box.closest('figure').dataset.chart : '',
  rows: box.querySelectorAll('tbody tr').length,
  scrollHeight: box.scrollHeight,
  clientHeight: box.clientHeight,
}))
"""


@dataclass
class Printed:
    """A page as it prints: its table boxes under ``@media print``, and the PDF."""

    boxes: list[dict[str, Any]]
    pdf: bytes

    def cut(self) -> list[dict[str, Any]]:
        """Table boxes that show less than their table (a scroll box cut on paper)."""
        return [box for box in self.boxes if box["scrollHeight"] > box["clientHeight"] + 1]

    @property
    def pages(self) -> int:
        """Pages of the PDF (Chromium writes one ``/Type /Page`` object per page)."""
        return len(re.findall(rb"/Type\s*/Page(?![s\w])", self.pdf))


def printed(executable: str, page: Path, *, media: str = "print", timeout: float = 60.0) -> Printed:
    """Open ``page`` with the CSS media type ``media`` (``print`` or ``screen``), read its table
    boxes, and print it to PDF (A4, backgrounds) as Chromium's "Save as PDF" would."""
    with chromium(executable, timeout=timeout) as browser:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Page.enable", session=session)
        browser.send("Emulation.setEmulatedMedia", {"media": media}, session=session)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired", session)
        boxes = browser.send(
            "Runtime.evaluate", {"expression": TABLE_BOXES, "returnByValue": True}, session=session
        )["result"]["value"]
        pdf = browser.send(
            "Page.printToPDF",
            {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True},
            session=session,
        )
        return Printed(boxes=boxes, pdf=base64.b64decode(pdf["data"]))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m tests.browser PAGE.html OUT.png", file=sys.stderr)
        return 2
    executable = find_chromium()
    if executable is None:
        print("error: chromium not found (apt-get install chromium)", file=sys.stderr)
        return 1
    seen = visit(executable, Path(args[0]))
    # A palette of 64 colours: the page is flat colours and text, and the file stays small.
    from PIL import Image

    shot = Image.open(io.BytesIO(seen.screenshot)).convert("RGB")
    shot.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        args[1], optimize=True
    )
    print(f"wrote {args[1]} ({seen.width}x{seen.height}); requests: {seen.requests}; errors: {seen.errors()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
