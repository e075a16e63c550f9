#!/usr/bin/env python3
"""console_test.py BACKEND — the operator console (/console/) end to end in a real browser.

Starts a real `stagebridge serve` on fresh databases of BACKEND and drives Debian's
/usr/bin/chromium headless through /usr/bin/chromedriver with python3-selenium (no browser
download). Every wait is a condition (WebDriverWait), never a sleep.

  headers    from the real server: the page's Content-Security-Policy (no inline script) and
             nosniff, a script served as text/javascript with an ETag, 304 on revalidation.
  login      a wrong password shows the authenticator's message; the right one opens the
             overview; the session cookie is HttpOnly, SameSite=Strict, Path=/console/ and
             invisible to document.cookie.
  backlog    two rows Ingested through SOAP (a plain HTTP POST from Python), one of them the
             hostile value <img src=x onerror=alert(1)>: the overview's pending count rises to 2.
  run        Run now on the workflows page: the run appears and ends `done` with its figures
             (2 merged, 2 inserted); the run page shows the per-schema figures.
  schema     the schema page shows the rows in the cloud view, the staging view empty, the
             hostile value as text (no <img> element, no alert), the filter narrows to one row.
  csrf       a forged POST (the session cookie, no CSRF token) is refused 403 and disables
             nobody; a cross-origin POST with the token too; the operators page's own
             Disable / Enable works.
  rights     a non-admin (rights on dem:sampleTable only) sees no Operators link, the
             operators page refuses it (server-side 403, shown as a message), the overview
             lists only its schema.
  layout     a narrow window (420 px) has no horizontal page overflow.
  browser    no JavaScript error in the browser's console log (the only SEVERE entries are
             the expected 401 of the failed login and 403 of the refused operators page).

Screenshots of each page at 1280×800 and the overview at 420 px wide are saved under
$STAGEBRIDGE_TEST_OUT (default: ./console-screenshots/BACKEND). Prints ok/FAIL per check
and `console[BACKEND]: N passed, M failed`. Needs STAGEBRIDGE_BIN, STAGEBRIDGE_SOURCE_DIR;
for postgres STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh).
"""

import http.client
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sbtest import CaseDatabases, CaseError, Server, SoapClient, run_cases  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException  # noqa: E402,E501
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
PASSWORD = "console-secret"
VIEWER_PASSWORD = "viewer-secret"
HOSTILE = "<img src=x onerror=alert(1)>"
WAIT = 60  # seconds: the sanitizer build is slow; a condition usually holds within a second or two


def out_dir():
    d = os.environ.get("STAGEBRIDGE_TEST_OUT") or os.path.join(os.getcwd(), "console-screenshots", BACKEND)
    os.makedirs(d, exist_ok=True)
    return d


def browser(work):
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--no-first-run", "--disable-extensions",
                "--user-data-dir=" + os.path.join(work, "chromium-profile")):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def wait(driver, condition, what):
    try:
        # The pages re-render as they refresh: an element read as it is replaced is
        # stale, and the condition is simply tried again.
        return WebDriverWait(driver, WAIT, poll_frequency=0.1,
                             ignored_exceptions=[StaleElementReferenceException]).until(lambda d: condition(d))
    except TimeoutException:
        raise CaseError("timed out waiting for %s (page: %s)" % (what, driver.current_url))


def text_of(driver, css):
    els = driver.find_elements(By.CSS_SELECTOR, css)
    try:
        return els[0].text if els else None
    except StaleElementReferenceException:
        return None


def click(driver, css, what):
    """Clicks the element `css` once it is there (found afresh if the page re-rendered it)."""
    def attempt(d):
        els = d.find_elements(By.CSS_SELECTOR, css)
        if not els:
            return False
        els[0].click()
        return True
    wait(driver, attempt, what)


def shoot(driver, name, results):
    path = os.path.join(out_dir(), name + ".png")
    ok = driver.save_screenshot(path)
    results.check("screenshot %s.png" % name, ok and os.path.getsize(path) > 1000, path)


def api(port, method, path, cookie=None, body=None, headers=None):
    """(status, parsed JSON or text) of a console API call made outside the browser."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Host": "127.0.0.1:%d" % port}
    if cookie:
        h["Cookie"] = cookie
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    conn.request(method, path, None if body is None else json.dumps(body).encode(), h)
    r = conn.getresponse()
    text = r.read().decode("utf-8", "replace")
    conn.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def raw_get(port, path, headers=None):
    """(status, {header name lower-cased: value}, body bytes) of a GET outside the browser."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, None, headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def log_in(driver, login, password):
    driver.find_element(By.ID, "login-name").clear()
    driver.find_element(By.ID, "login-name").send_keys(login)
    driver.find_element(By.ID, "login-password").clear()
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def pending_cell(d):
    return text_of(d, 'td[data-field="pending"][data-schema="dem:sampleTable"]')


def case_browser(work, results, seed):
    dbs = CaseDatabases(BACKEND, work)
    server = None
    driver = None
    try:
        dbs.prepare(PASSWORD)
        r = dbs.cli(["operator", "add", "viewer", "--schema", "dem:sampleTable", "--password-stdin"],
                    stdin=VIEWER_PASSWORD + "\n")
        if r.returncode != 0:
            raise CaseError("operator add viewer: " + r.stderr)
        r = dbs.cli(["service", "add", "news", "--label", "News letter"])
        if r.returncode != 0:
            raise CaseError("service add: " + r.stderr)
        server = Server(dbs, work, "server", ["--replicate-schedule", "every 1h", "--lockout-attempts", "5"])
        server.start()
        port = server.port
        base = "http://127.0.0.1:%d/console/" % port
        driver = browser(work)
        errors_seen = []

        # ---------------------------------------------------------------- headers (the real server)
        status, headers, body = raw_get(port, "/console/")
        results.check("the page: 200 text/html", status == 200 and headers.get("content-type") ==
                      "text/html; charset=utf-8", "%s %s" % (status, headers.get("content-type")))
        results.check("Content-Security-Policy without inline script",
                      headers.get("content-security-policy", "").startswith(
                          "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'"),
                      headers.get("content-security-policy", ""))
        results.check("X-Content-Type-Options: nosniff", headers.get("x-content-type-options") == "nosniff")
        status, headers, body = raw_get(port, "/console/static/js/app.js")
        etag = headers.get("etag", "")
        results.check("a script: text/javascript with an ETag",
                      status == 200 and headers.get("content-type") == "text/javascript; charset=utf-8" and etag,
                      "%s %s %s" % (status, headers.get("content-type"), etag))
        status, _, body = raw_get(port, "/console/static/js/app.js", {"If-None-Match": etag})
        results.check("revalidation with the ETag: 304, no body", status == 304 and body == b"", str(status))

        # ---------------------------------------------------------------- login
        driver.get(base)
        wait(driver, lambda d: d.find_element(By.ID, "login").is_displayed(), "the login form")
        shoot(driver, "login", results)
        log_in(driver, "admin", "wrong-password")
        message = wait(driver, lambda d: text_of(d, "#login-error"), "the failed login's message")
        results.check("a failed login shows its message", "incorrect" in message, message)
        results.check("a failed login opens nothing", not driver.find_element(By.ID, "nav").is_displayed())
        log_in(driver, "admin", PASSWORD)
        wait(driver, lambda d: d.find_element(By.ID, "nav").is_displayed() and pending_cell(d) is not None,
             "the overview after login")
        results.check("login opens the overview with the backlog", pending_cell(driver) == "0", pending_cell(driver))
        cookie = driver.get_cookie("sb_console") or {}
        results.check("session cookie HttpOnly, SameSite=Strict, Path=/console/",
                      cookie.get("httpOnly") is True and cookie.get("sameSite") == "Strict"
                      and cookie.get("path") == "/console/", repr({k: v for k, v in cookie.items() if k != "value"}))
        results.check("the cookie is invisible to scripts",
                      "sb_console" not in driver.execute_script("return document.cookie"))
        session_cookie = "sb_console=" + cookie.get("value", "")

        # ---------------------------------------------------------------- backlog
        soap = SoapClient(port)
        soap.logon("admin", PASSWORD)
        collection = ('<sampleTableStg-collection xtkschema="dem:sampleTableStg">'
                      '<sampleTableStg _key="@id" id="XSS1" testcol1="%s" testcol2="hostile"/>'
                      '<sampleTableStg _key="@id" id="ROW2" testcol1="plain" testcol2="second"/>'
                      '</sampleTableStg-collection>' % HOSTILE.replace("<", "&lt;").replace(">", "&gt;"))
        ingest = soap.ingest(collection)
        results.check("Ingest through SOAP", ingest.kind == "ok", repr(ingest))
        wait(driver, lambda d: pending_cell(d) == "2", "the pending count to rise to 2")
        results.check("the overview's backlog count rises to 2", True)
        results.check("the overview draws the plot", len(driver.find_elements(By.CSS_SELECTOR, ".plot svg path")) == 1)
        shoot(driver, "overview", results)

        # ---------------------------------------------------------------- run now
        driver.get(base + "#/workflows")
        click(driver, 'button.run-now[data-workflow="ffdaReplicateStagingData"]', "the Run now button")

        def done_run(d):
            for row in d.find_elements(By.CSS_SELECTOR, "#run-table tbody tr"):
                cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
                if len(cells) > 5 and cells[1] == "ffdaReplicateStagingData" and "done" in cells[0]:
                    return cells
            return None
        cells = wait(driver, done_run, "the run to end done")
        figures = cells[5]
        results.check("Run now: the run is done with its figures",
                      "dem:sampleTable: 2 merged (2 inserted, 0 updated, 0 deleted, 0 rejected)" in figures, figures)
        results.check("the run was triggered by the console's operator", cells[2] == "console:admin", cells[2])
        shoot(driver, "workflows", results)
        run_id = cells[0].split()[0].lstrip("#")
        click(driver, '#run-table a[href="#/run/%s"]' % run_id, "the run's link")
        wait(driver, lambda d: text_of(d, "#run-status") == "done", "the run page")
        results.check("the run page shows the per-schema figures",
                      "dem:sampleTable 2 2 0 0 0" in (text_of(driver, "#run-schemas") or ""),
                      text_of(driver, "#run-schemas") or "")
        shoot(driver, "run", results)
        driver.get(base + "#/overview")
        wait(driver, lambda d: pending_cell(d) == "0", "the backlog to drop to 0 after the run")
        results.check("after the run the backlog is 0 and the last run merged 2",
                      text_of(driver, 'td[data-field="merged"][data-schema="dem:sampleTable"]') == "2")

        # ---------------------------------------------------------------- schema page
        driver.get(base + "#/schema/dem:sampleTable")

        def cloud_cells(d):
            tds = d.find_elements(By.CSS_SELECTOR, "#cloud-panel table td")
            return tds if any(td.text == "XSS1" for td in tds) else None
        texts = wait(driver, lambda d: (lambda tds: [td.text for td in tds] if tds else None)(cloud_cells(d)),
                     "the cloud rows")
        results.check("the hostile value shows as text in the cloud view", HOSTILE in texts, " | ".join(texts))
        results.check("no <img> element was created", len(driver.find_elements(By.TAG_NAME, "img")) == 0)
        try:
            driver.switch_to.alert
            results.check("no alert fired", False, "an alert is open")
        except NoAlertPresentException:
            results.check("no alert fired", True)
        wait(driver, lambda d: "No row" in (text_of(d, "#staging-panel") or ""), "the empty staging view")
        results.check("the staging view is empty after the merge", True)
        shoot(driver, "schema", results)
        driver.find_element(By.ID, "where").send_keys("@id = 'ROW2'")
        click(driver, "#filter-form button[type=submit]", "the filter's Apply button")
        wait(driver, lambda d: (lambda t: t and "ROW2" in t and "XSS1" not in t)(text_of(d, "#cloud-panel table")),
             "the filtered cloud view")
        results.check("the filter narrows the cloud view to one row", True)

        # ---------------------------------------------------------------- subscriptions
        driver.get(base + "#/subscriptions")
        wait(driver, lambda d: "news" in (text_of(d, "#services") or ""), "the services")
        results.check("subscriptions: the service and its subscriber count",
                      "news News letter email 0" in text_of(driver, "#services"), text_of(driver, "#services"))
        shoot(driver, "subscriptions", results)

        # ---------------------------------------------------------------- CSRF
        status, body = api(port, "POST", "/console/api/operator", session_cookie, {"login": "viewer", "disabled": True})
        results.check("a forged POST without the CSRF token is refused 403", status == 403, "%s %s" % (status, body))
        status, session = api(port, "GET", "/console/api/session", session_cookie)
        status, body = api(port, "POST", "/console/api/operator", session_cookie, {"login": "viewer", "disabled": True},
                           {"X-CSRF-Token": session.get("csrf", ""), "Origin": "http://evil.example"})
        results.check("a cross-origin POST is refused 403 even with the token", status == 403, "%s %s" % (status, body))
        status, body = api(port, "GET", "/console/api/operators", session_cookie)
        viewer = [o for o in body.get("operators", []) if o["login"] == "viewer"] if isinstance(body, dict) else []
        results.check("the forged POSTs changed nothing", viewer and viewer[0]["disabled"] is False, repr(body))
        driver.get(base + "#/operators")
        state = 'td[data-field="state"][data-login="viewer"]'
        wait(driver, lambda d: text_of(d, state) == "enabled", "the operators page")
        shoot(driver, "operators", results)
        click(driver, 'button.toggle[data-login="viewer"]', "the Disable button")
        wait(driver, lambda d: text_of(d, state) == "disabled", "viewer disabled")
        click(driver, 'button.toggle[data-login="viewer"]', "the Enable button")
        wait(driver, lambda d: text_of(d, state) == "enabled", "viewer enabled again")
        results.check("the operators page disables and enables (with its CSRF token)", True)

        # ---------------------------------------------------------------- narrow window
        driver.get(base + "#/overview")
        wait(driver, lambda d: pending_cell(d) is not None, "the overview")
        driver.set_window_size(420, 860)
        wait(driver, lambda d: d.execute_script("return window.innerWidth") <= 420, "the narrow window")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        results.check("a narrow window has no horizontal page overflow", overflow <= 1, "overflow %s px" % overflow)
        shoot(driver, "overview-narrow", results)
        driver.set_window_size(1280, 800)

        # ---------------------------------------------------------------- a non-admin
        click(driver, "#logout", "the Log out button")
        wait(driver, lambda d: d.find_element(By.ID, "login").is_displayed(), "the login form after logout")
        log_in(driver, "viewer", VIEWER_PASSWORD)
        wait(driver, lambda d: d.find_element(By.ID, "nav").is_displayed() and pending_cell(d) is not None,
             "the viewer's overview")
        results.check("a non-admin sees no Operators link",
                      not driver.find_element(By.ID, "nav-operators").is_displayed())
        schemas = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#backlog tbody tr td:first-child")]
        results.check("a non-admin's overview lists only the schemas it may read", schemas == ["dem:sampleTable"],
                      repr(schemas))
        driver.get(base + "#/operators")
        refused = wait(driver, lambda d: text_of(d, ".message.error"), "the refusal of the operators page")
        results.check("the operators page refuses a non-admin", "admins only" in refused, refused)
        results.check("and lists nobody", not driver.find_elements(By.ID, "operators"))
        shoot(driver, "operators-refused", results)
        viewer_cookie = "sb_console=" + (driver.get_cookie("sb_console") or {}).get("value", "")
        status, _ = api(port, "GET", "/console/api/operators", viewer_cookie)
        results.check("the server refuses the operators API to a non-admin (403)", status == 403, str(status))

        # ---------------------------------------------------------------- browser log
        for entry in driver.get_log("browser"):
            if entry.get("level") != "SEVERE":
                continue
            msg = entry.get("message", "")
            expected = ("/console/api/login" in msg and "401" in msg) or \
                       ("/console/api/operators" in msg and "403" in msg)
            if not expected:
                errors_seen.append(msg)
        results.check("no JavaScript error in the browser console", not errors_seen, " | ".join(errors_seen)[:2000])
        results.check("the server kept serving", server.alive())
    finally:
        if driver is not None:
            driver.quit()
        if server is not None:
            server.stop()
        dbs.drop()


if __name__ == "__main__":
    sys.exit(run_cases("console", BACKEND, [("browser", case_browser)], "CONSOLE"))
