"""The operator web page (/ui/) in a real headless Chromium, driven by selenium.

A dev server with its embedded moto; the test issues leases through the API, signs
in on the page with the root token, sees them, revokes one (and a prefix) through
the confirmation dialog and checks the IAM user is gone from moto. A token whose
policies allow nothing sees "permission denied", not data. Browser console errors
(a Content-Security-Policy violation among them) fail the test. A screenshot of the
page goes to test-artifacts/operator-ui/ (ignored by git).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from support.aws_engine import caller_arn
from support.processes import http, start_vaultlet_dev

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "operator-ui"
ADMIN_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
# As /work/.library's machine notes say: without the background-networking flags Chromium
# keeps trying to reach Google's hosts, which this machine's closed network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1800",
]


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    server = start_vaultlet_dev(tmp_path_factory.mktemp("operator-ui"), extra_args=["-dev-aws=moto"])
    yield server
    server.stop()


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def _moto_iam(server):
    endpoint = re.search(r"AWS \(moto\) is at (http://127\.0\.0\.1:\d+)", server.log_text()).group(1)
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    return endpoint, iam


def _issue(server, path: str) -> dict:
    status, body, text = http(server, "GET", path)
    assert status == 200, text
    return body


def _sign_in(driver, server, token: str) -> None:
    driver.get(server.address + "/")  # redirects to /ui/, as Vault does
    assert driver.current_url == server.address + "/ui/"
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "sign-in-button").click()
    _wait_loaded(driver, previous=None)


def _wait_loaded(driver, previous: str | None) -> str:
    """Wait until the page finished a (new) round of API calls; returns its marker."""
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.body.dataset.loaded || null") not in (None, previous)
    )
    return driver.execute_script("return document.body.dataset.loaded")


def _lease_rows(driver) -> list[str]:
    return [
        row.get_attribute("data-lease-id")
        for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-lease-id]")
    ]


def _confirm_dialog(driver, expected_target: str, answer: str) -> None:
    dialog = driver.find_element(By.ID, "confirm")
    WebDriverWait(driver, 10).until(lambda _d: dialog.get_attribute("open") is not None)
    assert driver.find_element(By.ID, "confirm-target").text == expected_target
    driver.save_screenshot(str(ARTIFACTS / "operator-page-confirm.png"))
    driver.find_element(By.ID, "confirm-ok" if answer == "ok" else "confirm-cancel").click()


def _console_errors(driver) -> list[str]:
    """Script errors and CSP refusals. Chromium also logs every non-2xx answer as "Failed to
    load resource" (a LIST with nothing under it is Vault's 404): those are the API working."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]
    ]


def test_operator_page_headers_and_redirect(dev_server):
    import urllib.request

    with urllib.request.urlopen(dev_server.address + "/ui/") as response:
        csp = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in page and "onclick" not in page  # nothing inline for the CSP to forbid
    request = urllib.request.Request(dev_server.address + "/")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(request)
        raise AssertionError("/ did not redirect")
    except urllib.error.HTTPError as error:
        assert error.code == 307 and error.headers["Location"] == "/ui/"
    assert http(dev_server, "GET", "sys/health", token=None)[0] == 200  # the API is untouched


def test_sign_in_see_revoke_and_permission_denied(dev_server, browser, tmp_path):
    server = dev_server
    audit_log = tmp_path / "audit.log"
    device = {"type": "file", "options": {"file_path": str(audit_log)}}
    assert http(server, "PUT", "sys/audit/ui-file", device)[0] == 204
    moto_endpoint, iam = _moto_iam(server)
    role = {"credential_type": "iam_user", "policy_document": ADMIN_POLICY}
    assert http(server, "POST", "aws/roles/deployer", role)[0] == 204
    user_lease = _issue(server, "aws/creds/deployer")
    user_name = caller_arn(SimpleNamespace(endpoint=moto_endpoint), user_lease["data"]).rsplit("/", 1)[1]
    assert user_name in [u["UserName"] for u in iam.list_users()["Users"]]
    demo_leases = [_issue(server, "aws/creds/demo")["lease_id"] for _ in range(2)]
    hostile = "<img src=x onerror=alert(1)>"  # API strings are shown as text, never parsed as HTML
    assert http(server, "POST", "sys/mounts/kv-html", {"type": "kv", "description": hostile})[0] == 204

    _sign_in(browser, server, "root")
    assert browser.execute_script("return window.location.href").find("root") == -1  # token not in the URL
    assert browser.execute_script("return sessionStorage.getItem('vaultlet.operator.token')") == "root"
    rows = _lease_rows(browser)
    assert set(rows) == {user_lease["lease_id"], *demo_leases}
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "aws/creds/deployer/" in page and "1 active" in page and "2 active" in page
    assert "deployer, demo" in page or "demo, deployer" in page  # the aws/ mount's roles
    assert hostile in browser.find_element(By.ID, "mounts").text
    assert browser.find_elements(By.CSS_SELECTOR, "#mounts img") == []
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart rect.bar")
    assert len(bars) == 25 and browser.find_elements(By.CSS_SELECTOR, "#chart text.value")
    assert browser.find_element(By.ID, "lease-count").text.isdigit()
    audit = browser.find_element(By.ID, "audit").text
    assert "ui-file/" in audit and str(audit_log) in audit
    assert browser.find_element(By.ID, "audit-count").text == "1"
    assert browser.find_element(By.ID, "irrevocable").text == "None."
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "operator-page-signed-in.png"))

    # Cancel leaves the lease alone; confirming revokes it and the IAM user with it.
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-lease-id="{user_lease["lease_id"]}"]')
    row.find_element(By.CSS_SELECTOR, "button[data-action=revoke]").click()
    _confirm_dialog(browser, user_lease["lease_id"], "cancel")
    assert user_lease["lease_id"] in _lease_rows(browser)
    marker = browser.execute_script("return document.body.dataset.loaded")
    row.find_element(By.CSS_SELECTOR, "button[data-action=revoke]").click()
    _confirm_dialog(browser, user_lease["lease_id"], "ok")
    marker = _wait_loaded(browser, marker)
    assert user_lease["lease_id"] not in _lease_rows(browser)
    assert user_name not in [u["UserName"] for u in iam.list_users()["Users"]]
    assert http(server, "PUT", "sys/leases/lookup", {"lease_id": user_lease["lease_id"]})[0] == 400

    # Revoke a whole prefix (both demo leases).
    prefix_block = browser.find_element(By.CSS_SELECTOR, 'div[data-prefix="aws/creds/demo/"]')
    prefix_block.find_element(By.CSS_SELECTOR, "button[data-action=revoke-prefix]").click()
    _confirm_dialog(browser, "aws/creds/demo/", "ok")
    _wait_loaded(browser, marker)
    assert _lease_rows(browser) == []
    status, body, _ = http(server, "GET", "sys/leases/lookup/aws/creds/demo/?list=true")
    assert status == 404
    browser.save_screenshot(str(ARTIFACTS / "operator-page-after-revoke.png"))
    assert _console_errors(browser) == []

    # A token whose policies allow nothing here: "permission denied" and no data.
    kept = _issue(server, "aws/creds/demo")["lease_id"]
    status, created, _ = http(server, "POST", "auth/token/create", {"policies": ["default"]})
    assert status == 200
    browser.find_element(By.ID, "sign-out").click()
    assert browser.execute_script("return sessionStorage.getItem('vaultlet.operator.token')") is None
    _sign_in(browser, server, created["auth"]["client_token"])
    page = browser.find_element(By.TAG_NAME, "body").text
    for section in ("mounts", "leases", "chart", "irrevocable", "audit"):
        assert browser.find_element(By.ID, section).text == "permission denied"
    assert kept not in browser.page_source and "aws/creds/demo" not in page
    assert _lease_rows(browser) == []
    browser.save_screenshot(str(ARTIFACTS / "operator-page-permission-denied.png"))


def test_bad_token_is_refused_on_the_sign_in_form(dev_server, browser):
    browser.get(dev_server.address + "/ui/")
    browser.find_element(By.ID, "token").send_keys("not-a-token")
    browser.find_element(By.ID, "sign-in-button").click()
    error = browser.find_element(By.ID, "sign-in-error")
    WebDriverWait(browser, 10).until(lambda _d: error.text)
    assert "permission denied" in error.text
    assert browser.find_element(By.ID, "dashboard").is_displayed() is False
    assert browser.execute_script("return sessionStorage.getItem('vaultlet.operator.token')") is None


def _denied_row(driver, mount: str, operation: str) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, f'#denied tr[data-denied="{mount} {operation}"]')
    assert len(rows) == 1, f"no denied-requests row for {mount} {operation}"
    return [cell.text for cell in rows[0].find_elements(By.TAG_NAME, "td")]


def test_denied_requests_from_metrics(dev_server, browser):
    """Requests a weak token was refused show per mount and operation, with the change since
    the last refresh; the weak token itself sees "permission denied" in that section."""
    server = dev_server
    assert http(server, "POST", "sys/mounts/denied-ui", {"type": "kv"})[0] == 204
    status, created, _ = http(server, "POST", "auth/token/create", {"policies": ["default"]})
    weak = created["auth"]["client_token"]
    for _ in range(3):
        assert http(server, "GET", "denied-ui/secret", token=weak)[0] == 403
    for _ in range(2):
        assert http(server, "GET", "denied-ui/?list=true", token=weak)[0] == 403

    _sign_in(browser, server, "root")
    assert _denied_row(browser, "denied-ui/", "read") == ["denied-ui/", "read", "3", "–"]
    assert _denied_row(browser, "denied-ui/", "list") == ["denied-ui/", "list", "2", "–"]
    for _ in range(4):
        assert http(server, "GET", "denied-ui/secret", token=weak)[0] == 403
    marker = browser.execute_script("return document.body.dataset.loaded")
    browser.find_element(By.ID, "refresh").click()
    _wait_loaded(browser, marker)
    assert _denied_row(browser, "denied-ui/", "read") == ["denied-ui/", "read", "7", "4"]
    assert _denied_row(browser, "denied-ui/", "list") == ["denied-ui/", "list", "2", "0"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.find_element(By.ID, "denied").location_once_scrolled_into_view  # noqa: B018 - scrolls
    browser.save_screenshot(str(ARTIFACTS / "operator-page-denied-requests.png"))
    assert _console_errors(browser) == []

    browser.find_element(By.ID, "sign-out").click()
    _sign_in(browser, server, weak)
    assert browser.find_element(By.ID, "denied").text == "permission denied"
    assert "denied-ui/" not in browser.find_element(By.TAG_NAME, "body").text
