"""The service's web page in a real browser: Playwright driving Debian's chromium (offline; skipped
when playwright or /usr/bin/chromium is missing). The screenshot is kept in test-artifacts/."""
import io
import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

from lpr.loadtest import running_server, stop_server  # noqa: E402

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


@pytest.fixture(scope="module")
def server():
    """One server for the module's tests (``(process, base URL)``), stopped with SIGTERM by the last."""
    with running_server(["--threads", "1"], stop_signal=signal.SIGTERM) as (proc, url):
        yield proc, url


@pytest.fixture
def page(browser, server):
    """A fresh page on the server's ``/``; every request it makes is checked to stay on the server."""
    url = server[1]
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((url, "blob:", "data:")) else None)
    page.goto(url + "/")
    yield page
    page.close()
    assert outside == []  # nothing loaded from the internet


def read_in_page(page, name, data, mime, state="done"):
    """Upload ``data`` as the file ``name`` and wait until the page shows its answer (``state``)."""
    page.set_input_files("#file", {"name": name, "mimeType": mime, "buffer": data})
    page.wait_for_function("([name, state]) => document.body.dataset.state === state && "
                           "document.getElementById('status').textContent.startsWith(name)",
                           arg=[name, state], timeout=60_000)


def test_page_reads_an_uploaded_photo_and_draws_its_plates(page):
    text, colour = LABELS[PHOTO.name]
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
    assert not canvas.is_visible() and not page.locator("#plates").is_visible()  # not the last photo's plates


#: The left columns of the canvas (no plate is drawn there in the demo photo), as RGBA bytes.
LEFT_COLUMNS = """(n) => { const c = document.getElementById("view");
  return Array.from(c.getContext("2d").getImageData(0, 0, n, c.height).data); }"""


@pytest.mark.parametrize("fmt, orientation", [("JPEG", 6), ("PNG", 3)])
def test_page_draws_the_stored_pixels_whatever_the_exif_orientation(page, fmt, orientation):
    """The server reads the stored pixels (EXIF orientation ignored): the page draws those, not the
    browser's rotated view, so that the boxes land on the plates (a phone photo tagged "rotate 90")."""
    np = pytest.importorskip("numpy")
    from PIL import Image

    stored = Image.open(PHOTO).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    stored.save(out, fmt, exif=exif.tobytes(), quality=95)
    name = f"tagged.{fmt.lower()}"
    read_in_page(page, name, out.getvalue(), f"image/{fmt.lower()}")
    assert page.locator("#plates tbody tr td").nth(1).inner_text() == LABELS[PHOTO.name][0]
    size = page.evaluate("[document.getElementById('view').width, document.getElementById('view').height]")
    assert size == [720, 1160]  # as stored, not turned
    shown = np.array(page.evaluate(LEFT_COLUMNS, 20), np.float32).reshape(1160, 20, 4)[:, :, :3]
    expected = np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"), np.float32)[:, :20]
    assert np.abs(shown - expected).mean() < 8  # the same pixels, not rotated or flipped ones


def test_an_older_answer_arriving_late_is_dropped(page):
    held = []
    page.route("**/v1/read*", lambda route: held.append(route) if not held else route.continue_())
    page.set_input_files("#file", {"name": "slow.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"})
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('reading slow.jpg')")
    for _ in range(1200):  # the route handler runs while Playwright waits (at most a minute)
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the first photo's request never reached the route"
    read_in_page(page, PHOTO.name, PHOTO.read_bytes(), "image/jpeg")
    held[0].continue_()  # the first photo's answer (an error) comes after the second's
    page.wait_for_selector("body[data-dropped='1']", timeout=60_000)
    assert page.inner_text("#status").startswith(PHOTO.name) and page.get_attribute("body", "data-state") == "done"
    assert page.locator("#plates tbody tr").count() == 1


def test_server_stops_cleanly_on_sigterm(server):
    proc = server[0]
    assert proc.poll() is None
    assert stop_server(proc, sig=signal.SIGTERM) == 0  # the requests in flight answered, exit status 0
