"""TensorBoard's own server on a folder of runs, to look at them as a user does: started on a free
local port, used once it serves what the caller waits for, stopped afterwards. Its JSON routes
(`/data/runs`, `/data/plugin/...`) answer what the browser shows; headless Chromium (Debian's
`chromium`) takes screenshots of the pages themselves."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple


class View(NamedTuple):
    """A TensorBoard page (its run and tag filters in the URL) in a `width` x 1000 window, and
    the part of it a README paragraph is about: `crop` (left, top, right, bottom) in CSS pixels,
    taken at `scale` device pixels per CSS pixel so that charts read at full size."""

    page: str
    crop: tuple[int, int, int, int]
    scale: float = 2
    width: int = 1600


VIEWS = {
    "tensorboard_mean_scalars.png": View(
        "#scalars&regexInput=mean%2F&tagFilter=%5E(val%7Ctrain_eval)%2Facc%24&_smoothingWeight=0",
        (0, 56, 1070, 600),
    ),
    "tensorboard_custom_scalars.png": View(
        "#custom_scalars&regexInput=mean%2F&_smoothingWeight=0", (0, 56, 1090, 840)
    ),
    "tensorboard_hparams.png": View("#hparams", (470, 56, 2300, 930), scale=1.3, width=2300),
    "tensorboard_summary_chart.png": View("#images&regexInput=summary", (358, 160, 735, 462), 3),
    "tensorboard_summary_table.png": View("#text&regexInput=summary", (360, 140, 1590, 520)),
}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--virtual-time-budget=20000",
]  # fmt: skip


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise FileNotFoundError("no chromium on PATH: apt-get install chromium (Debian's)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, route: str, body: dict | None = None):
    """A route's JSON answer; with `body`, POSTed as JSON (the hparams routes)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url + route, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@contextmanager
def tensorboard(
    logdir: Path, ready: Callable[[str], bool], timeout_s: float = 120
) -> Iterator[str]:
    """`tensorboard --logdir logdir` on 127.0.0.1; yields its URL once `ready(url)` holds."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
        "--port", str(port), "--load_fast=false", "--reload_interval", "2",
    ]  # fmt: skip
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"tensorboard exited ({process.returncode}):\n{log.read()}")
                try:
                    if ready(url):
                        break
                except OSError:  # not listening yet
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"tensorboard on {logdir} not ready after {timeout_s} s")
                time.sleep(0.5)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def screenshot(browser: str, url: str, path: Path, view: View) -> None:
    """The view's part of the page at `url`, as a PNG."""
    from PIL import Image

    window = [f"--window-size={view.width},1000", f"--force-device-scale-factor={view.scale}"]
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, *CHROMIUM_FLAGS, *window, f"--user-data-dir={profile}",
             f"--screenshot={path}", url],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        if not path.is_file():
            raise RuntimeError(f"chromium wrote no screenshot for {url}")
    with Image.open(path) as page:
        part = page.crop(tuple(round(view.scale * edge) for edge in view.crop))
    part.save(path, optimize=True)


def take_screenshots(sweep_dir: Path, out_dir: Path) -> list[Path]:
    browser = chromium()
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = {p.name for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()}

    def loaded(url: str) -> bool:
        tags = get_json(url, "/data/plugin/scalars/tags")
        return expected <= tags.keys() and "summary" in get_json(url, "/data/runs")

    with tensorboard(sweep_dir, loaded) as url:
        paths = []
        for name, view in VIEWS.items():
            screenshot(browser, f"{url}/{view.page}", out_dir / name, view)
            paths.append(out_dir / name)
    return paths
