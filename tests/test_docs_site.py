"""`make docs`'s site as a reader's browser shows it, with the network off: the site is built by
MkDocs from docs/ as committed, served on 127.0.0.1, and every page is opened in headless
Chromium that can resolve no other host. Every page loads with no request answered 4xx/5xx,
every link and image inside the site exists, the course's maths is typeset (as many rendered
equations as its Markdown holds) and search finds "perplexity"."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import websocket
from scripts.board import CHROMIUM_FLAGS, chromium

from dl101 import PROJECT_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("chromium"), reason="no chromium (apt-get install chromium)"
    ),
]
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"  # no host but ours
COURSE_PAGES = ["01_linear_networks", "02_mlp", "03_cnn", "04_rnn"]


class Links(HTMLParser):
    """The href and src of a page's a, link, img and script elements."""

    def __init__(self):
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        wanted = {"a": "href", "link": "href", "img": "src", "script": "src"}.get(tag)
        value = dict(attrs).get(wanted) if wanted else None
        if value:
            self.targets.append(value)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", out], cwd=PROJECT_ROOT, capture_output=True,
        text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def served(site):
    """(base URL, the list of (path, status) the server answered)."""
    answered: list[tuple[str, int]] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"):
            answered.append((unquote(urlsplit(self.path).path), int(code)))

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answered
    server.shutdown()


def dom(url: str, budget_ms: int = 5000) -> str:
    # Chromium's helper processes may still write to the profile as it is removed.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        result = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, OFFLINE, f"--virtual-time-budget={budget_ms}",
             f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def pages(site: Path) -> list[str]:
    return sorted(str(p.parent.relative_to(site)) for p in site.rglob("index.html"))


def test_every_page_loads_offline_with_every_request_answered(site, served):
    url, answered = served
    assert len(pages(site)) >= 30
    for page in pages(site):
        before = len(answered)
        text = dom(f"{url}/{'' if page == '.' else page + '/'}")
        assert "md-content" in text, page
        failed = [(path, code) for path, code in answered[before:] if code >= 400]
        assert not failed, f"{page}: {failed}"


def test_every_link_and_image_inside_the_site_exists(site):
    broken = []
    for html in site.rglob("*.html"):
        parser = Links()
        parser.feed(html.read_text())
        base = "/" + str(html.relative_to(site))
        for target in parser.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or target.startswith("#"):
                continue  # another site's page: a link out, not part of this one
            path = unquote(urlsplit(urljoin(base, target)).path).lstrip("/")
            found = site / path
            if not (found.is_file() or (found / "index.html").is_file()):
                broken.append(f"{html.relative_to(site)} -> {target}")
    assert not broken, broken[:20]


def test_no_page_loads_anything_from_another_host(site):
    remote = re.compile(r"<(?:script|link|img)[^>]+(?:src|href)=\"(?:https?:)?//", re.I)
    offenders = [p.name for p in site.rglob("*.html") if remote.search(p.read_text())]
    assert not offenders, offenders


def math_in_markdown(text: str) -> int:
    """Display ($$...$$) and inline ($...$) maths outside code, counted as arithmatex does."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    display = re.findall(r"\$\$.+?\$\$", text, flags=re.S)
    text = re.sub(r"\$\$.+?\$\$", "", text, flags=re.S)
    inline = re.findall(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$", text)
    return len(display) + len(inline)


@pytest.mark.parametrize("name", COURSE_PAGES)
def test_the_course_pages_maths_is_typeset_equation_for_equation(served, name):
    url, _ = served
    source = (PROJECT_ROOT / "docs" / "course" / f"{name}.md").read_text()
    expected = math_in_markdown(source)
    text = dom(f"{url}/course/{name}/", budget_ms=20000)
    rendered = len(re.findall(r'<span class="MathJax"[^>]*id="MathJax-Element', text))
    errors = len(re.findall(r'class="merror"', text))
    assert expected >= 10, name
    assert (rendered, errors) == (expected, 0), name


def evaluate_until(url: str, expression: str, done, timeout_s: float = 60):
    """Open `url` in Chromium and evaluate `expression` through the DevTools protocol until
    `done(value)` holds, in real time (a search index is built by a worker, which virtual time
    does not wait for); returns the value."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", OFFLINE, f"--user-data-dir={profile}",
             "--remote-debugging-port=0", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + timeout_s
            port_file = Path(profile) / "DevToolsActivePort"
            while not port_file.is_file() or not port_file.read_text().strip():
                assert time.monotonic() < deadline, "chromium opened no DevTools port"
                time.sleep(0.2)
            port = int(port_file.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                page = next(t for t in json.load(r) if t["type"] == "page")
            socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=10)
            call = {"id": 1, "method": "Runtime.evaluate",
                    "params": {"expression": expression, "returnByValue": True}}  # fmt: skip
            while True:
                socket.send(json.dumps(call))
                value = json.loads(socket.recv())["result"]["result"].get("value")
                if done(value) or time.monotonic() > deadline:
                    socket.close()
                    return value
                time.sleep(0.5)
        finally:  # the browser and its helper processes, which write to the profile too
            os.killpg(browser.pid, signal.SIGTERM)
            browser.wait(timeout=30)


def test_search_finds_perplexity_offline(served):
    url, _ = served
    results = evaluate_until(
        f"{url}/?q=perplexity",
        "[...document.querySelectorAll('.md-search-result__item')].map(e => e.textContent)",
        done=bool,
    )
    assert results, "search found nothing"
    assert len(results) >= 2 and "perplexity" in results[0].lower(), results[:2]
