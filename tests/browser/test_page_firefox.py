"""The upload page in a real headless Firefox (Debian's firefox-esr) against the real stack.

Playwright's Firefox is a patched build that cannot be installed here, and geckodriver is not in
Debian, so the test starts ``firefox-esr`` itself and speaks the W3C WebDriver BiDi protocol that
Firefox serves on ``--remote-debugging-port`` (a JSON websocket; ``websockets`` is the only client
dependency). The files reach the page through the real ``<input type=file multiple>`` (BiDi
``input.setFiles``: the same change event a file chooser fires) and the passwords are typed as key
events. Expected values come from the samples themselves (``test_page.expected_for``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.browser.test_page import expected_for
from tests.support.paths import SAMPLE_PASSWORD, SAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.stack]

FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
OTHER_PASSWORD = "다른암호12"  # the generated document's own password (Korean: typed as key events)
WRONG_PASSWORD_KO = "비밀번호가 맞지 않습니다."
PROBE = "test-probe"  # the sandbox realm of the test's own listeners

# Nothing in the background talks to the network or changes the browser under the test.
PREFS = {
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "app.normandy.enabled": False,
    "app.shield.optoutstudies.enabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.policy.firstRunURL": "",
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.server": "",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.proxy.type": 0,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "services.settings.server": "http://127.0.0.1:1/",
    "messaging-system.rsexperimentloader.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.page": 0,
    "browser.startup.homepage_override.mstone": "ignore",
    "startup.homepage_welcome_url": "",
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "toolkit.startup.max_resumed_crashes": -1,
    "intl.accept_languages": "ko-KR, ko",
}


class BiDi:
    """A minimal WebDriver BiDi client: commands by id, events kept in ``events``."""

    def __init__(self, url: str, timeout: float = 30):
        self.ws = connect(url, max_size=None, open_timeout=timeout)
        self.timeout = timeout
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def send(self, method: str, **params) -> dict:
        n = next(self.ids)
        self.ws.send(json.dumps({"id": n, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("type") == "event":
                self.events.append(msg)
            elif msg.get("id") == n:
                if msg.get("type") == "error":
                    raise RuntimeError(f"{method}: {msg.get('error')}: {msg.get('message')}")
                return msg["result"]

    def close(self) -> None:
        self.ws.close()


class Tab:
    """One browsing context of the BiDi session."""

    def __init__(self, bidi: BiDi, context: str):
        self.bidi, self.context = bidi, context

    def goto(self, url: str) -> None:
        self.bidi.send("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def _evaluate(self, expression: str, sandbox: str | None = None) -> dict:
        target = {"context": self.context, **({"sandbox": sandbox} if sandbox else {})}
        r = self.bidi.send("script.evaluate", expression=expression, awaitPromise=True, target=target)
        if r["type"] == "exception":
            raise RuntimeError(f"{expression!r}: {r['exceptionDetails'].get('text')}")
        return r["result"]

    def js(self, expression: str, sandbox: str | None = None):
        """The value of a JS expression (may be a promise), through JSON; in the page's realm, or
        in an isolated ``sandbox`` realm that shares only the DOM with it."""
        result = self._evaluate(f"(async () => JSON.stringify(await ({expression})))()", sandbox)
        return json.loads(result["value"]) if result.get("type") == "string" else None

    def element(self, selector: str) -> dict:
        node = self._evaluate(f"document.querySelector({json.dumps(selector)})")
        assert node.get("type") == "node", f"no element {selector}"
        return {"sharedId": node["sharedId"]}

    def type_into(self, selector: str, text: str, enter: bool = False) -> None:
        """Click the field, then type ``text`` key by key (and Enter)."""
        self.js(f"document.querySelector({json.dumps(selector)}).scrollIntoView({{block: 'center'}})")
        keys = [{"type": t, "value": c} for c in text for t in ("keyDown", "keyUp")]
        if enter:
            keys += [{"type": "keyDown", "value": "\ue007"}, {"type": "keyUp", "value": "\ue007"}]
        self.bidi.send(
            "input.performActions",
            context=self.context,
            actions=[
                {
                    "type": "pointer",
                    "id": "mouse",
                    "actions": [
                        {
                            "type": "pointerMove",
                            "x": 0,
                            "y": 0,
                            "origin": {"type": "element", "element": self.element(selector)},
                        },
                        {"type": "pointerDown", "button": 0},
                        {"type": "pointerUp", "button": 0},
                    ],
                },
            ],
        )
        self.bidi.send(
            "input.performActions",
            context=self.context,
            actions=[{"type": "key", "id": "keyboard", "actions": keys}],
        )

    def set_files(self, selector: str, paths: list[Path]) -> None:
        self.bidi.send(
            "input.setFiles",
            context=self.context,
            element=self.element(selector),
            files=[str(p.resolve()) for p in paths],
        )

    def wait_for(self, expression: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {expression}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def firefox():
    """firefox-esr, headless, with a fresh profile; killed and its profile removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="hometax-firefox-"))
    profile = workdir / "profile"
    profile.mkdir()
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items())
    )
    log = workdir / "firefox.log"
    env = {**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_HEADLESS": "1"}
    proc = bidi = None
    try:
        with open(log, "wb") as out:
            # port 0: Firefox picks a free port and prints the websocket address on stderr
            proc = subprocess.Popen(
                [
                    FIREFOX,
                    "--headless",
                    "--no-remote",
                    "--profile",
                    str(profile),
                    "--remote-debugging-port",
                    "0",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
                start_new_session=True,
            )  # its own process group: all of it is killed below
        deadline = time.monotonic() + 60
        while not (
            m := re.search(r"WebDriver BiDi listening on (ws://\S+)", log.read_text("utf-8", "replace"))
        ):
            assert proc.poll() is None, f"firefox-esr exited ({proc.returncode}):\n{log.read_text()}"
            assert time.monotonic() < deadline, f"firefox-esr did not start:\n{log.read_text()}"
            time.sleep(0.1)
        bidi = BiDi(m.group(1) + "/session")
        caps = bidi.send(
            "session.new",
            capabilities={
                "alwaysMatch": {
                    "acceptInsecureCerts": True,  # the stack's self-signed certificate
                    "unhandledPromptBehavior": {"default": "dismiss"},
                }
            },
        )["capabilities"]
        bidi.send("session.subscribe", events=["log.entryAdded"])  # console errors, uncaught exceptions
        # CSP violations as the page's own DOM events, recorded from a realm the page cannot see
        bidi.send(
            "script.addPreloadScript",
            sandbox=PROBE,
            functionDeclaration="""() => {
            window.cspViolations = [];
            document.addEventListener("securitypolicyviolation",
                e => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`)); }""",
        )
        context = bidi.send("browsingContext.getTree")["contexts"][0]["context"]
        bidi.send("browsingContext.setViewport", context=context, viewport={"width": 1280, "height": 900})
        yield Tab(bidi, context), caps
    finally:
        if bidi is not None:
            try:
                bidi.send("browser.close")
            except Exception:
                pass
            bidi.close()
        if proc is not None:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group of the Firefox we started, nothing else
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def other_password_pdf(tmp_path_factory) -> Path:
    from tests.support import builder

    path = tmp_path_factory.mktemp("firefox-files") / "other-password.pdf"
    path.write_bytes(builder.build_nts_pdf(encryption="aes-256", user_password=OTHER_PASSWORD))
    return path


ROWS_JS = """Array.from(document.querySelectorAll('#results-body tr[data-file]')).map(r => ({
    file: r.dataset.file, state: r.dataset.state,
    name: r.querySelector('td.person-name')?.innerText ?? null,
    resid: r.querySelector('td.resid')?.innerText ?? null,
    badge: r.querySelector('.badge')?.innerText ?? null,
    errors: Array.from(r.querySelectorAll('.error-message')).map(e => [e.innerText, e.dataset.code])}))"""


def settled(n: int) -> str:
    return (
        "document.querySelectorAll('#results-body tr[data-state=done],"
        f" #results-body tr[data-state=error]').length === {n}"
    )


@pytest.fixture(scope="module")
def page(firefox, stack, other_password_pdf):
    """One HR session in Firefox: the password typed once, three files chosen at once."""
    tab, caps = firefox
    tab.goto(stack.base_url + "/")
    tab.type_into("#password", SAMPLE_PASSWORD)
    files = [
        SAMPLES / "nts-2020" / "all.pdf",
        SAMPLES / "nts-2020" / "all-password-1234567.pdf",
        other_password_pdf,
    ]
    tab.set_files("#file-input", files)
    tab.wait_for(settled(len(files)))
    return {"tab": tab, "caps": caps, "rows": {r["file"]: r for r in tab.js(ROWS_JS)}}


def test_firefox_shows_people_badges_and_the_wrong_password_in_its_row(page):
    tab, rows = page["tab"], page["rows"]
    assert page["caps"]["browserName"] == "firefox"
    assert set(rows) == {"all.pdf", "all-password-1234567.pdf", "other-password.pdf"}
    assert tab.js("document.querySelector('#password').value") == SAMPLE_PASSWORD  # typed keys arrived
    for shown, path, pw in (
        ("all.pdf", "all.pdf", None),
        ("all-password-1234567.pdf", "all-password-1234567.pdf", SAMPLE_PASSWORD),
    ):
        exp = expected_for(SAMPLES / "nts-2020" / path, pw)
        assert rows[shown] == {
            "file": shown,
            "state": "done",
            "name": exp["name"],
            "resid": exp["resid_masked"],
            "badge": exp["badge"],
            "errors": [],
        }
        assert (rows[shown]["name"], rows[shown]["resid"], rows[shown]["badge"]) == (
            "고길동",
            "750101-1******",
            "진본 확인",
        )
    other = rows["other-password.pdf"]
    assert other["state"] == "error"
    assert other["errors"] == [[WRONG_PASSWORD_KO, "wrong_password"]]
    # the message is in that row only
    text = tab.js("document.body.innerText")
    assert text.count(WRONG_PASSWORD_KO) == 1
    html = tab.js("document.documentElement.outerHTML")
    for form in ("7501011234567", "750101-1234567"):
        assert form not in text and form not in html
    assert "750101-1******" in text
    stored = tab.js("""(async () => ({
        local: localStorage.length, session: sessionStorage.length, cookie: document.cookie,
        idb: (await indexedDB.databases()).length, caches: (await caches.keys()).length}))()""")
    assert stored == {"local": 0, "session": 0, "cookie": "", "idb": 0, "caches": 0}
    assert tab.bidi.send("storage.getCookies")["cookies"] == []


def test_firefox_retries_one_file_with_its_own_korean_password(page):
    tab = page["tab"]
    row = 'tr[data-file="other-password.pdf"]'
    tab.type_into(f"#results-body {row} input[type=password]", OTHER_PASSWORD, enter=True)
    tab.wait_for(f"document.querySelector('#results-body {row}').dataset.state === 'done'")
    tab.wait_for(settled(3))
    rows = {r["file"]: r for r in tab.js(ROWS_JS)}
    assert rows["other-password.pdf"]["errors"] == []
    assert rows["other-password.pdf"]["name"] == "김테스트"
    assert rows["other-password.pdf"]["resid"] == "800101-1******"
    assert rows["other-password.pdf"]["badge"] == "위변조 의심"  # a generated file has no NTS timestamp
    text = tab.js("document.body.innerText")
    assert WRONG_PASSWORD_KO not in text and "8001011234567" not in text
    # no console error, uncaught exception or CSP violation in the whole session
    assert [
        e["params"]
        for e in tab.bidi.events
        if e["method"] == "log.entryAdded" and e["params"].get("level") == "error"
    ] == []
    assert tab.js("window.cspViolations", sandbox=PROBE) == []
