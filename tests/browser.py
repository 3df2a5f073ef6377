"""A real headless browser (Debian's ``chromium``) on a report page: what it laid out and rendered."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

CHECK = """<script>window.addEventListener("load", () => {
  const imgs = [...document.images], shown = e => e.getBoundingClientRect().height > 0;
  const out = {title: document.title, tables: [...document.querySelectorAll("table")].filter(shown).length,
    images: imgs.length, decoded: imgs.filter(i => i.complete && i.naturalWidth > 0 && shown(i)).length,
    sections: [...document.querySelectorAll("h2[id]")].map(h => h.id),
    text: document.body.innerText};
  const pre = document.createElement("pre"); pre.id = "srlm-check"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});</script>"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def need_chromium() -> None:
    """Skip without chromium; fail where CI installed it (``.ci/run`` sets SRLM_REQUIRE_CHROMIUM)."""
    import pytest

    if not chromium():
        if os.environ.get("SRLM_REQUIRE_CHROMIUM"):
            pytest.fail("SRLM_REQUIRE_CHROMIUM is set but chromium is not installed")
        pytest.skip("no chromium here (apt-get install chromium; .ci/run installs it)")


FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000"]
"""Headless, as root in CI (no sandbox), scripts given 10 s of virtual time to run."""


def _run(*args: str, timeout: int = 60) -> str:
    flags = FLAGS
    proc = subprocess.run([chromium(), *flags, *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def dump_dom(page: Path) -> str:
    """The page's DOM once loaded and its scripts have run."""
    return _run("--dump-dom", page.resolve().as_uri())


def rendered(page: Path, tmp: Path) -> dict:
    """Open a copy of ``page`` with a probe script: the tables and images the browser laid out, the
    images it decoded, the section ids, the visible text."""
    probe = tmp / f"probe-{page.name}"
    probe.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    dom = dump_dom(probe)
    found = re.search(r'<pre id="srlm-check">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run: {dom[:500]}"
    import html

    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 2400) -> Path:
    """A PNG of the page as the browser paints it."""
    _run(f"--window-size={width},{height}", f"--screenshot={out.resolve()}", page.resolve().as_uri())
    return out


def painted_colours(png: Path) -> int:
    """How many distinct colours a screenshot holds (a blank page: one)."""
    from PIL import Image

    with Image.open(png) as im:
        return len(im.convert("RGB").getcolors(maxcolors=1 << 20) or [])
