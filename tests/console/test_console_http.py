"""The console over plain HTTP: sign-in with PKCE through the org, the session cookie,
CSRF on every POST, what a rep may see, and the health endpoints left alone."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.fernet import Fernet

from relay.localorg.runner import LocalOrgInfo
from relay.localorg.seed import REPS, rep_email
from relay.reps.directory import load_address_secret, personal_address
from tests.console.console_helpers import ALICE, BOB, REP_PASSWORD, sign_in
from tests.support.localorg import RunningOrg
from tests.support.pipeline import email, wait_for
from tests.support.serve import DOMAIN, RelayServe


def test_health_endpoints_stay_sessionless(console_relay: RelayServe) -> None:
    """/healthz, /readyz and /metrics answer as before and set no cookie."""
    base = f"http://127.0.0.1:{console_relay.http_port}"
    for path in ("/healthz", "/readyz", "/metrics"):
        response = requests.get(base + path, timeout=10)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
        assert "Content-Security-Policy" not in response.headers, path
    assert requests.get(base + "/healthz", timeout=10).json() == {"status": "ok"}


def test_pages_need_a_sign_in(console_relay: RelayServe) -> None:
    base = f"http://127.0.0.1:{console_relay.http_port}"
    response = requests.get(base + "/settings", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?")
    assert parse_qs(urlsplit(location).query)["next"] == ["/settings"]


def test_sign_in_sets_an_encrypted_http_only_lax_cookie(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    """After the flow the rep's page shows their BCC address; the cookie is HttpOnly,
    SameSite=Lax, 12 hours, and holds nothing readable."""
    rep = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    cookie = next(c for c in rep.http.cookies if c.name == "relay_console")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite") == "Lax"
    assert not cookie.secure  # the public URL is http here
    assert cookie.expires is not None
    assert ALICE not in (cookie.value or "")
    page = rep.get("/settings")
    assert page.status_code == 200
    assert "Alice Nguyen" in page.text
    user_id = console_org.client().query(f"SELECT Id FROM User WHERE Username = '{ALICE}'")[
        "records"
    ][0]["Id"]
    secret = load_address_secret(console_relay.home)
    assert personal_address(user_id, secret, DOMAIN) in page.text
    events = console_relay.events("console_change")
    assert any(e["action"] == "signed_in" and e["user"] == ALICE for e in events)


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    rep = sign_in(console_relay, console_org, BOB, REP_PASSWORD)
    refused = rep.post("/settings/logging", {"body": "none", "attachments": "names",
                                             "confirmations": "off"}, csrf=False)  # fmt: skip
    assert refused.status_code == 403
    shown = json.loads(console_relay.cli("settings", "show", "--user", BOB, "--json").stdout)
    assert shown["settings"]["body"] == "full"
    wrong = rep.http.post(rep.base + "/settings/logging",
                          data={"body": "none", "csrf_token": "forged"},
                          allow_redirects=False)  # fmt: skip
    assert wrong.status_code == 403
    saved = rep.post("/settings/logging", {"body": "none", "attachments": "names",
                                           "confirmations": "off"})  # fmt: skip
    assert saved.status_code == 302
    shown = json.loads(console_relay.cli("settings", "show", "--user", BOB, "--json").stdout)
    assert shown["settings"]["body"] == "none"
    assert shown["sources"]["body"] == "user"
    events = [e for e in console_relay.events("console_change") if e["action"] == "settings_set"]
    assert events[-1]["user"] == BOB


def test_a_value_out_of_range_changes_nothing(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    rep = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    response = rep.post("/settings/logging", {"body": "everything", "attachments": "upload",
                                              "confirmations": "on"})  # fmt: skip
    assert response.status_code == 302
    page = rep.get("/settings").text
    assert "body=&#39;everything&#39;" in page or "everything" in page
    shown = json.loads(console_relay.cli("settings", "show", "--user", ALICE, "--json").stdout)
    assert shown["settings"]["attachments"] == "names"  # the valid one was not saved either


def test_logout_ends_the_session_and_its_salesforce_token(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    rep = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    key = (console_relay.home / "console-session.key").read_bytes()
    cookie = next(c for c in rep.http.cookies if c.name == "relay_console")
    stored = json.loads(Fernet(base64.urlsafe_b64encode(key)).decrypt(cookie.value.encode()))
    token = stored["session"]["user"]["access_token"]
    limits = console_org.url("/services/data/v62.0/limits")
    headers = {"Authorization": f"Bearer {token}"}
    assert rep.http.get(limits, headers=headers).status_code == 200
    assert rep.post("/logout", {}).status_code == 302
    assert rep.get("/settings").status_code == 302
    assert rep.http.get(limits, headers=headers).status_code == 401  # revoked at sign-out


def test_a_rep_gets_403_on_the_admin_page(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    rep = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    assert rep.get("/admin").status_code == 403
    admin = sign_in(
        console_relay, console_org, console_org.info.username, console_org.info.password
    )
    page = admin.get("/admin")
    assert page.status_code == 200
    assert "<strong>ok</strong> reps: synced" in page.text  # the checks on the page


def test_the_console_url_is_printed_at_start_up(console_relay: RelayServe) -> None:
    assert (
        f"relay: web console at http://127.0.0.1:{console_relay.http_port}/"
        in console_relay.stderr()
    )


def test_a_session_older_than_12_hours_is_signed_out(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    """The sign-in time inside the encrypted cookie is checked on every request."""
    rep = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    assert rep.get("/settings").status_code == 200
    key = (console_relay.home / "console-session.key").read_bytes()
    fernet = Fernet(base64.urlsafe_b64encode(key))
    cookie = next(c for c in rep.http.cookies if c.name == "relay_console")
    stored = json.loads(fernet.decrypt(cookie.value.encode()))
    stored["session"]["signed_in_at"] -= 12 * 3600 + 60
    cookie.value = fernet.encrypt(json.dumps(stored).encode()).decode()
    rep.http.cookies.set_cookie(cookie)
    response = rep.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?")


def test_cookies_are_secure_behind_an_https_public_url(
    tmp_path: Path, console_org: RunningOrg
) -> None:
    """With RELAY_PUBLIC_URL on https the cookie is Secure and the callback is public."""
    relay = RelayServe(
        tmp_path / "relay",
        env={**console_org.env(), "RELAY_PUBLIC_URL": "https://relay.example.test"},
        args=("--workers", "0"),
    )
    relay.start()
    try:
        response = requests.get(
            f"http://127.0.0.1:{relay.http_port}/login", allow_redirects=False, timeout=10
        )
        assert "relay: web console at https://relay.example.test/" in relay.stderr()
    finally:
        relay.stop()
    assert response.status_code == 302
    set_cookie = response.headers["Set-Cookie"]
    assert "Secure" in set_cookie
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["redirect_uri"] == ["https://relay.example.test/auth/callback"]


def test_the_csrf_token_may_come_as_the_htmx_header(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    """X-CSRF-Token (what htmx sends from hx-headers) passes like the form field."""
    rep = sign_in(console_relay, console_org, BOB, REP_PASSWORD)
    token = rep.csrf_token()
    response = rep.http.post(
        rep.base + "/settings/logging",
        data={"body": "full", "attachments": "names", "confirmations": "on"},
        headers={"X-CSRF-Token": token},
        allow_redirects=False,
    )
    assert response.status_code == 302
    shown = json.loads(console_relay.cli("settings", "show", "--user", BOB, "--json").stdout)
    assert shown["settings"]["confirmations"] == "on"


LOCAL_ORG_FIELDS = [field.name for field in dataclasses.fields(LocalOrgInfo)]


def test_the_console_works_on_the_embedded_local_org(tmp_path: Path) -> None:
    """`relay serve` without Salesforce credentials (as `make run`): sign in as the
    embedded org's admin with the credentials in RELAY_HOME/localorg."""
    relay = RelayServe(tmp_path / "relay", env={"RELAY_SF_LOCAL": "1"}, args=("--workers", "1"))
    relay.start()
    try:
        credentials = json.loads((relay.home / "localorg" / "credentials.json").read_text())
        running = json.loads((relay.home / "localorg" / "running.json").read_text())
        org = RunningOrg(None, LocalOrgInfo(**{k: running[k] for k in LOCAL_ORG_FIELDS}))
        admin = sign_in(relay, org, credentials["username"], credentials["password"])
        page = admin.get("/admin")
        org.admin.close()
    finally:
        relay.stop()
    assert page.status_code == 200
    assert "Who changed what" in page.text


def test_queue_actions_are_the_admins_and_a_wrong_one_changes_nothing(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    queue_id = console_relay.send_queued(email(["hank@globex.example"], "Console: queue op",
                                               sender=ALICE))  # fmt: skip

    def state() -> str | None:
        listed = json.loads(console_relay.cli("queue", "list", "--state", "all", "--json").stdout)
        return next((m["state"] for m in listed if m["id"] == queue_id), None)

    wait_for(lambda: state() == "logged", what="the email logged")
    rep = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    assert rep.post(f"/admin/queue/{queue_id}/delete", {}).status_code == 403
    assert state() == "logged"
    admin = sign_in(
        console_relay, console_org, console_org.info.username, console_org.info.password
    )
    page = admin.get("/admin?state=logged").text
    assert f"Retry {queue_id}" in page
    assert f"Release {queue_id}" not in page  # only what the state table allows
    assert admin.post(f"/admin/queue/{queue_id}/release", {}).status_code == 302
    assert "cannot release" in admin.get("/admin?state=logged").text
    assert state() == "logged"
    assert admin.post(f"/admin/queue/{queue_id}/delete", {}).status_code == 302
    assert state() is None
    audit = [(e["action"], e["target"]) for e in console_relay.events("console_change")]
    assert ("queue_delete", queue_id) in audit
    assert ("queue_release", queue_id) not in audit


def test_relay_org_password_lets_a_rep_of_the_running_local_org_sign_in(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    """`relay org password` (another process, as an admin trying `make run` would use it)
    sets a rep's local org password; the running org takes it at the next sign-in."""
    carmen = rep_email(REPS[2])
    data = console_org.info.data_dir

    def set_password(*args: str, given: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relay", "org", "password", *args, "--data", data],
            input=given,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = set_password(carmen.upper(), "--password-stdin", given="carmen-tries-the-console\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"password set for {carmen}"
    session = sign_in(console_relay, console_org, carmen, "carmen-tries-the-console")
    assert session.get("/settings").status_code == 200
    unknown = set_password("nobody@acme-widgets.example", "--password-stdin", given="x\n")
    assert unknown.returncode == 1
    assert "no User nobody@acme-widgets.example in the local org" in unknown.stderr
    empty = set_password(carmen, "--password-stdin", given="\n")
    assert (empty.returncode, "the password is empty" in empty.stderr) == (1, True)
