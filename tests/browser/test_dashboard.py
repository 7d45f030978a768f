"""The dashboard in a real headless browser: Debian's chromium driven by Debian's chromedriver
through python3-selenium. The page loads with no script error and fetches nothing but the
daemon, a CSV uploaded through the form starts a job whose loss curve grows over the job's
event stream (text/event-stream) while it trains (both lines drawn on the canvas), the model
card shows (with its permutation importance as bars), a prediction from the page equals the
API's and is explained by a bar chart of the API's attributions, an auto job started from the
form fills its leaderboard table live from the stream's `candidate` events and ends with the
API's leaderboard, a malformed CSV shows its line, the spam box shows the API's score and marks
the message's words by the sign of their weight. A screenshot is kept: $BUILD/dashboard.png (and
docs/dashboard.png when DASHBOARD_DOCS_SHOT=1, for the README).

The tests run in order on one page, as a user would go through it. The daemon is started by
tests/api/conftest.py's Daemon. Run with tests/browser/run.sh (BIN= the folder of neurond).
"""
import base64
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import time

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from conftest import ROOT, Daemon, data, train, wait_job  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
DIGITS = data("digits_train.csv")
CANCER = data("breast_cancer_train.csv")
# without the background-networking flags Chromium's own connections (updates, sync, field
# trials) are refused here and slow the start; nothing of them is needed for a test
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1280,900"]
ALLOWED_ERRORS = re.compile(r"Failed to load resource: the server responded with a status of (400|404|422)")


class Page:
    """The browser on the dashboard, with what it logged: console errors and uncaught
    exceptions (`errors`), the URL of every request (`requests`) and every response
    (`responses`: url, status, mimeType) since the page was opened."""

    def __init__(self, driver, base):
        self.driver = driver
        self.base = base
        self.errors = []
        self.requests = []
        self.responses = []
        self.marks = 0

    def drain(self, timeout=10):
        """Moves what chromedriver logged into the lists, up to now: chromedriver reads the
        browser's events only now and then, so the page fetches a marker URL and this waits
        for its response; the browser sends its events in order, so all before it are in."""
        self.marks += 1
        mark = "%s/readyz?mark=%d" % (self.base, self.marks)
        self.js("fetch(arguments[0])", mark)
        deadline = time.time() + timeout
        while not any(r[0] == mark for r in self.responses):
            assert time.time() < deadline, "chromedriver did not log %s in %ss" % (mark, timeout)
            self.collect()
            time.sleep(0.02)

    def collect(self):
        for e in self.driver.get_log("browser"):
            if e["level"] == "SEVERE":
                self.errors.append(e["message"])
        for e in self.driver.get_log("performance"):
            m = json.loads(e["message"])["message"]
            if m["method"] == "Network.requestWillBeSent":
                self.requests.append(m["params"]["request"]["url"])
            elif m["method"] == "Network.responseReceived":
                r = m["params"]["response"]
                self.responses.append((r["url"], r["status"], r["mimeType"]))

    def foreign(self):
        """Requests to anywhere but the daemon (a CDN, a font): there must be none."""
        self.drain()
        return [u for u in self.requests if not u.startswith(self.base + "/") and not u.startswith("data:")]

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def text(self, css):
        """The element's textContent (as the DOM has it, not as laid out)."""
        return self.js("return document.querySelector(arguments[0]).textContent", css)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def wait(self, script, timeout=15, *args):
        """Waits until the JavaScript expression `script` is truthy; returns its value."""
        return WebDriverWait(self.driver, timeout, poll_frequency=0.02).until(
            lambda d: d.execute_script("return " + script, *args),
            "still false after %ss: %s" % (timeout, script))

    def wait_visible(self, css, timeout=15):
        WebDriverWait(self.driver, timeout, poll_frequency=0.02,
                      ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: any(e.is_displayed() for e in d.find_elements(By.CSS_SELECTOR, css)),
            "%s not visible after %ss" % (css, timeout))

    def click(self, css, timeout=15):
        """Clicks the element, finding it again when the page redrew it in between (the
        tables are rebuilt on each refresh)."""
        def attempt(d):
            d.find_element(By.CSS_SELECTOR, css).click()
            return True
        WebDriverWait(self.driver, timeout, poll_frequency=0.02,
                      ignored_exceptions=[StaleElementReferenceException]).until(
            attempt, "could not click %s in %ss" % (css, timeout))

    def select(self, css, value, timeout=15):
        """Picks the option with that value (again when the page rebuilt the options)."""
        def attempt(d):
            Select(d.find_element(By.CSS_SELECTOR, css)).select_by_value(value)
            return d.find_element(By.CSS_SELECTOR, css).get_property("value") == value
        WebDriverWait(self.driver, timeout, poll_frequency=0.02,
                      ignored_exceptions=[StaleElementReferenceException]).until(
            attempt, "could not select %s in %s" % (value, css))

    def fill(self, css, value):
        e = self.find(css)
        e.clear()
        e.send_keys(value)
        assert e.get_property("value") == value, (css, e.get_property("value"))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("browser"), ["--threads", "4", "--workers", "1"]).start()
    yield d
    rc = d.stop()
    assert rc == 0, d.logtext()  # a clean stop exits 0 (and the sanitizer build finds no leak)


@pytest.fixture(scope="module")
def page(daemon, tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="neurond-chromium-")
    opts.add_argument("--user-data-dir=" + profile)
    # start on about:blank, not on the new-tab page (which opens Debian's start page, a
    # request to the internet, and loads chrome:// pages of its own)
    opts.add_experimental_option("prefs", {"session.restore_on_startup": 4,
                                           "session.startup_urls": ["about:blank"]})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    log = str(tmp_path_factory.mktemp("chromedriver") / "chromedriver.log")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, service_args=["--log-path=" + log]), options=opts)
    try:
        p = Page(driver, daemon.base)
        driver.get(daemon.base + "/")
        yield p
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def api(daemon, path, **kw):
    r = requests.request(kw.pop("method", "GET"), daemon.url(path), **kw)
    return r.status_code, r.json()


def test_page_loads_with_no_script_error(page):
    assert page.driver.title == "neurond dashboard"
    page.wait("document.getElementById('ready').textContent === 'ready'")
    assert page.find("#models-empty").is_displayed()
    assert page.find("#jobs-empty").is_displayed()
    assert page.foreign() == []
    assert page.errors == []


def test_malformed_csv_refused_with_its_line(page, daemon, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('a,b,label\n1,2,x\n3,"4,y\n')
    page.find("#train-file").send_keys(str(bad))
    page.fill("#train-model", "broken")
    page.click("#train-btn")
    page.wait_visible("#train-msg.err")
    assert re.search(r"line 3", page.text("#train-msg")), page.text("#train-msg")
    assert api(daemon, "/jobs")[1]["jobs"] == []


def test_upload_csv_loss_curve_grows_while_training(page, daemon):
    page.find("#train-file").send_keys(DIGITS)
    assert page.js("return document.getElementById('train-file').files[0].name") == "digits_train.csv"
    page.fill("#train-model", "digits")
    page.fill("#train-epochs", "100")
    page.fill("#train-patience", "0")
    page.fill("#train-hidden", "128,128")
    page.click("#train-btn")
    page.wait("/^Job [0-9a-f]{8} /.test(document.getElementById('train-msg').textContent)")
    # live: while the job still runs, the canvas already holds some of its epochs
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        s = page.js("return {points: +document.getElementById('loss-chart').dataset.points,"
                    " info: document.getElementById('chart-info').textContent}")
        if " running " in s["info"] and s["points"] > 0:
            seen.append(s["points"])
        if " succeeded " in s["info"]:
            break
        time.sleep(0.025)
    assert len(seen) >= 2, "saw the curve while running: %s" % seen
    assert seen[-1] > seen[0], "the curve grew: %s" % seen
    assert seen[0] < 100, "the first drawing came before the end: %s" % seen[0]
    page.wait("/ succeeded /.test(document.getElementById('chart-info').textContent)", 60)
    jobs = api(daemon, "/jobs")[1]["jobs"]
    assert len(jobs) == 1
    job = api(daemon, "/jobs/" + jobs[0]["id"])[1]
    assert job["status"] == "succeeded"
    # the points came over the job's event stream, which the page read as text/event-stream
    page.drain()
    events = daemon.url("/jobs/%s/events" % job["id"])
    assert (events, 200, "text/event-stream") in page.responses, [r for r in page.responses if "/events" in r[0]]
    points = int(page.find("#loss-chart").get_attribute("data-points"))
    assert points == len(job["history"]) == 100
    # both lines are on the canvas: count pixels of the train (blue) and validation (orange) colours
    px = page.js("""
        const c = document.getElementById('loss-chart');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let train = 0, val = 0;
        for (let i = 0; i < d.length; i += 4) {
          const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
          if (Math.abs(r - 0x25) < 30 && Math.abs(g - 0x63) < 30 && Math.abs(b - 0xeb) < 30) train++;
          if (Math.abs(r - 0xea) < 30 && Math.abs(g - 0x58) < 30 && Math.abs(b - 0x0c) < 30) val++;
        }
        return {train, val};""")
    assert px["train"] > 100 and px["val"] > 100, px
    msg = page.text("#train-msg")
    assert re.fullmatch(r"Job [0-9a-f]{8} succeeded: digits v1 acc 0\.\d{3}", msg), msg
    assert msg.startswith("Job " + job["id"][:8] + " ")
    # the jobs table shows it succeeded
    page.wait_visible('#jobs tr[data-job="%s"] .status-succeeded' % job["id"])


def test_model_card_shows_inputs_classes_metrics(page):
    page.wait_visible('#models tr[data-model="digits"]')
    page.click('#models tr[data-model="digits"]')
    page.wait("/digit: 0, 1, 2/.test(document.getElementById('model-card').textContent)")
    text = page.text("#model-card")
    # pixel_0_0 is 0 in every image: a constant column, ignored
    for want in (r"pixel_0_1 · numeric", r"… and 49 more", r"val_accuracy 0\.\d{4}", r"61 → 128 → 128 → 10"):
        assert re.search(want, text), (want, text)
    # the columns table: one row per CSV column, the constant pixel ignored with its reason
    rows = page.js("return Array.from(document.querySelectorAll('#model-card details.columns tbody tr'))"
                   ".map(function (r) { return Array.from(r.cells).map(function (c) { return c.textContent; }); })")
    assert len(rows) == 65, rows
    by = {r[0]: r for r in rows}
    assert by["pixel_0_0"][1:4] == ["ignored", "0", "1"] and "constant" in by["pixel_0_0"][4], by["pixel_0_0"]
    assert by["pixel_0_1"][1] == "numeric" and by["digit"][1:] == ["label", "0", "10", "label"], rows
    assert re.search(r"Columns: 65 \(61 inputs, \d+ ignored, 1 label\)", text), text
    # the importance bars: the card's 12 most important inputs, largest first
    bars = page.js("return Array.from(document.querySelectorAll('#importance .attr'))"
                   ".map(function (r) { return [r.dataset.name, parseFloat(r.dataset.value)]; })")
    assert len(bars) == 12, bars
    assert [v for _, v in bars] == sorted((v for _, v in bars), reverse=True), bars
    assert all(n.startswith("pixel_") for n, _ in bars) and bars[0][1] > 0, bars


def test_prediction_from_the_page_equals_the_api(page, daemon):
    page.select("#predict-model", "digits")
    with open(DIGITS) as f:
        header = f.readline().strip().split(",")
        row = [float(x) for x in f.readline().strip().split(",")]
    inst = dict(zip(header[:64], row[:64]))
    page.fill("#predict-input", json.dumps(inst))
    page.click("#predict-btn")
    page.wait_visible("#predict-label")
    status, body = api(daemon, "/models/digits/predict", method="POST", json={"instances": [inst]})
    assert status == 200, body
    assert page.text("#predict-label") == body["predictions"][0]["label"]
    assert len(page.driver.find_elements(By.CSS_SELECTOR, "#predict-out .prob")) == 10
    # the bar chart under it: the API's 12 largest attributions, in its order, with its values
    status, ex = api(daemon, "/models/digits/predict", method="POST",
                     json={"instances": [inst], "explain": True})
    want = list(ex["predictions"][0]["explanation"]["attributions"].items())[:12]
    bars = page.js("return Array.from(document.querySelectorAll('#predict-explain .attr'))"
                   ".map(function (r) { return [r.dataset.name, parseFloat(r.dataset.value),"
                   " r.querySelector('.axis span').className,"
                   " parseFloat(r.querySelector('.axis span').style.width)]; })")
    assert [b[0] for b in bars] == [w[0] for w in want], (bars, want)
    for (name, v, cls, width), (_, w) in zip(bars, want):
        assert abs(v - w) <= 1e-6 * max(abs(w), 1), (name, v, w)
        assert cls == ("pos" if w >= 0 else "neg"), (name, cls, w)
    assert abs(bars[0][3] - 50.0) < 0.1  # the largest fills its half
    # a bad instance shows the API's error and its field
    page.fill("#predict-input", json.dumps({**inst, "pixel_0_1": "dark"}))
    page.click("#predict-btn")
    page.wait_visible("#predict-out .err")
    assert "pixel_0_1" in page.text("#predict-out .err")
    # and the good one again, for the screenshot
    page.fill("#predict-input", json.dumps(inst, indent=1))
    page.click("#predict-btn")
    page.wait("document.querySelector('#predict-label') && !document.querySelector('#predict-out .err')")


def test_auto_job_leaderboard_fills_live(page, daemon):
    # the form: "Auto" swaps the hidden layers for the search's limits
    assert page.find("#train-max-models").get_property("disabled") is True
    page.click("#train-auto")
    assert page.find("#train-hidden").get_property("disabled") is True
    page.find("#train-file").send_keys(CANCER)
    page.fill("#train-model", "cancer_auto")
    page.fill("#train-epochs", "40")
    page.fill("#train-patience", "0")
    page.fill("#train-max-seconds", "0")
    page.fill("#train-max-models", "18")  # the plan of 13 (no defaults' one: patience 0), 4, 1
    page.click("#train-btn")
    page.wait("/^Job [0-9a-f]{8} /.test(document.getElementById('train-msg').textContent)")
    job_id = page.text("#train-msg").split(" ")[1]
    # live: while the job runs, the table already holds some candidates, and more later
    seen = []
    deadline = time.time() + 120
    while time.time() < deadline:
        s = page.js("return {rows: document.querySelectorAll('#leaderboard tbody tr').length,"
                    " shown: !document.getElementById('leaderboard-card').hidden,"
                    " info: document.getElementById('leaderboard-info').textContent}")
        if " succeeded" in s["info"]:
            break
        if s["shown"] and " running" in s["info"] and s["rows"] > 0:
            seen.append(s["rows"])
        time.sleep(0.025)
    assert seen and seen[0] < 18, "saw the table while the search ran: %s" % seen
    assert max(seen) > seen[0], "the table filled while running: %s" % sorted(set(seen))
    page.wait("/ succeeded/.test(document.getElementById('leaderboard-info').textContent)", 60)
    jobs = [j for j in api(daemon, "/jobs")[1]["jobs"] if j["model"] == "cancer_auto"]
    assert len(jobs) == 1 and jobs[0]["id"].startswith(job_id)
    job = api(daemon, "/jobs/" + jobs[0]["id"])[1]
    assert job["status"] == "succeeded", job
    assert job["params"]["auto"] is True and job["params"]["max_models"] == 18
    board = job["leaderboard"]
    assert len(board) == 18
    # the table is the API's leaderboard, row for row, best first
    rows = page.js("return Array.from(document.querySelectorAll('#leaderboard tbody tr'))"
                   ".map(function (r) { return Array.from(r.cells).map(function (c) { return c.textContent; }); })")
    assert [r[1] for r in rows] == ["#%d" % b["candidate"] for b in board], (rows, board)
    assert [r[0] for r in rows] == [str(i + 1) for i in range(18)]
    for r, b in zip(rows, board):
        assert r[2] == ("defaults " if b.get("defaults") else "") + (
            ", ".join(str(w) for w in b["hidden"]) if b["hidden"] else "none"), (r, b)
        assert r[5] == "%.4f" % b["mean"] and r[6] == "%.4f" % b["sd"], (r, b)
        assert r[7] == "%.4f" % b["accuracy"], (r, b)
    assert page.text("#leaderboard-metric").startswith("log_loss")
    assert "best #%d" % board[0]["candidate"] in page.text("#leaderboard-info")
    # the best row is marked; unchecking Auto gives the hidden layers back
    assert page.js("return document.querySelector('#leaderboard tbody tr').className") == "best"
    page.click("#train-auto")
    assert page.find("#train-hidden").get_property("disabled") is False


def screenshot(page, path):
    """A PNG of the whole page, below the window too (Chromium's own capture, through CDP)."""
    size = page.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = page.driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    png = base64.b64decode(shot["data"])
    with open(path, "wb") as f:
        f.write(png)
    return png


def test_spam_box_scores_as_the_api_screenshot(page, daemon):
    # a tiny text model named "spam", trained through the API
    spam = ["win a free prize now", "cheap pills click here", "claim your free money", "you won the lottery click"]
    ham = ["meeting moved to noon", "see the attached report", "lunch tomorrow with the team", "notes from the review"]
    csv = "message,label\n" + "".join("%s %d,spam\n%s %d,ham\n" % (spam[i % 4], i, ham[i % 4], i) for i in range(30))
    job = train(daemon.base, "spam", params={"epochs": 30, "text_columns": "message"}, content=csv.encode())
    assert wait_job(daemon.base, job["id"], timeout=60)["status"] == "succeeded"
    text = "WIN a FREE prize now, click here"
    page.fill("#spam-text", text)
    page.click("#spam-btn")
    page.wait_visible("#spam-score")
    status, body = api(daemon, "/spam-score", method="POST", json={"text": text})
    assert status == 200, body
    assert body["spam"] is True
    want = page.js("return (arguments[0] * 100).toFixed(1) + '%'", body["score"])  # as the page formats it
    assert page.text("#spam-score") == want
    assert re.search(r" spam \(", page.text("#spam-out")), page.text("#spam-out")
    # the message's words, marked by the sign of their weight in the API's explanation
    status, ex = api(daemon, "/spam-score", method="POST", json={"text": text, "explain": {"top": 200}})
    weights = {w["word"]: w["value"] for w in ex["explanation"]["words"] if " " not in w["word"]}
    marks = page.js("return Array.from(document.querySelectorAll('#spam-words mark.w'))"
                    ".map(function (m) { return [m.textContent, m.className, parseFloat(m.dataset.value)]; })")
    assert page.text("#spam-words") == text  # the message itself, unchanged
    tokens = [t for t in re.findall(r"[A-Za-z0-9']+", text) if t.lower() in weights]
    assert [m[0] for m in marks] == tokens and len(tokens) >= 5, (marks, weights)
    for word, cls, v in marks:
        w = weights[word.lower()]
        assert abs(v - w) <= 1e-9 * max(abs(w), 1) and cls == "w " + ("pos" if w >= 0 else "neg"), (word, cls, w)
    assert any(cls == "w pos" for _, cls, _ in marks), marks  # a spam message has words pushing up
    os.makedirs(BUILD, exist_ok=True)
    path = os.path.join(BUILD, "dashboard.png")
    png = screenshot(page, path)
    if os.environ.get("DASHBOARD_DOCS_SHOT") == "1":
        shutil.copyfile(path, os.path.join(ROOT, "docs", "dashboard.png"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000, len(png)
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 1200 and height > 900, (width, height)  # the whole page, not the window
    # the deliberate 400 and 422 replies above are logged by the browser (so the log is read);
    # nothing else may be
    assert page.foreign() == []
    assert [e for e in page.errors if not ALLOWED_ERRORS.search(e)] == []
    logged = {(e.split(" ")[0], ALLOWED_ERRORS.search(e).group(1)) for e in page.errors}
    assert {(daemon.url("/train"), "400"), (daemon.url("/models/digits/predict"), "422")} <= logged, page.errors
