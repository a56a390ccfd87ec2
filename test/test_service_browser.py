"""The service's web page in a real browser: Playwright driving Debian's chromium (offline; skipped
when playwright or /usr/bin/chromium is missing). The screenshot is kept in test-artifacts/."""
import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

from lpr.loadtest import running_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
PHOTO = ROOT / "lpr" / "demo" / "0000001.jpg"
LABELS = {line.split("\t")[0]: line.split("\t")[1:3]
          for line in (ROOT / "lpr" / "demo" / "labels.tsv").read_text(encoding="utf-8").splitlines()[1:]}

#: Pixels of the photo drawn on the canvas: the box stroke's and the corners' colours (index.html).
COUNT_COLOURS = """([x1, y1, x2, y2]) => {
  const c = document.getElementById("view");
  const pad = 8, x = Math.max(0, Math.floor(x1) - pad), y = Math.max(0, Math.floor(y1) - pad);
  const d = c.getContext("2d").getImageData(x, y, Math.ceil(x2 - x1) + 2 * pad, Math.ceil(y2 - y1) + 2 * pad).data;
  let box = 0, corners = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] === 0x00 && d[i + 1] === 0xe6 && d[i + 2] === 0x76) box++;
    if (d[i] === 0xff && d[i + 1] === 0x17 && d[i + 2] === 0x44) corners++;
  }
  return [box, corners];
}"""


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except playwright.Error as e:
            pytest.skip(f"{CHROMIUM} does not start: {str(e).splitlines()[0]}")
        yield b
        b.close()


def test_page_reads_an_uploaded_photo_and_draws_its_plates(browser):
    text, colour = LABELS[PHOTO.name]
    with running_server(["--threads", "1"], stop_signal=signal.SIGTERM) as (proc, url):
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((url, "blob:", "data:")) else None)
        page.goto(url + "/")
        assert page.title() == "License plate reader"
        page.set_input_files("#file", str(PHOTO))
        page.wait_for_selector("body[data-state=done]", timeout=60_000)
        rows = page.locator("#plates tbody tr")
        assert rows.count() == 1
        cells = rows.first.locator("td").all_inner_texts()
        assert cells[1] == text and cells[2].strip() == colour and cells[5] == "yes"
        assert PHOTO.name in page.inner_text("#status") and "1 plate" in page.inner_text("#status")
        canvas = page.locator("#view")
        assert canvas.is_visible()
        assert page.evaluate("[document.getElementById('view').width, document.getElementById('view').height]") \
            == [720, 1160]  # the photo at its own size
        box = [float(v) for v in cells[6].split(",")]
        box_pixels, corner_pixels = page.evaluate(COUNT_COLOURS, box)
        assert box_pixels > 50 and corner_pixels > 50  # the box and the corners are drawn on the photo
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "service_page.png"), full_page=True)
        assert (ARTIFACTS / "service_page.png").stat().st_size > 10_000

        page.set_input_files("#file", {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"})
        page.wait_for_selector("body[data-state=error]", timeout=60_000)
        assert "not a readable image" in page.inner_text("#status") and "HTTP 400" in page.inner_text("#status")
        assert outside == []  # nothing loaded from the internet
    assert proc.returncode == 0  # SIGTERM: a clean stop
