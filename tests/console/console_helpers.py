"""The console's tests share one seeded local org and one `relay serve` pointed at it,
and sign in over plain HTTP with requests (the browser tests drive Chromium instead).

Reps sign in with passwords set through the org's REST API (``POST
sobjects/User/{id}/password``), as an admin of a real org would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import requests

from relay.localorg.seed import REPS, rep_email
from tests.support.localorg import RunningOrg
from tests.support.serve import RelayServe

ALICE = rep_email(REPS[0])
BOB = rep_email(REPS[1])
REP_PASSWORD = "console-tests-password-1"


def set_rep_passwords(org: RunningOrg) -> dict[str, str]:
    """Each sample rep's password; returns email -> User id."""
    sf = org.client()
    ids = {}
    for email in (ALICE, BOB):
        user_id = sf.query(f"SELECT Id FROM User WHERE Username = '{email}'")["records"][0]["Id"]
        sf.restful(f"sobjects/User/{user_id}/password", method="POST",
                   json={"NewPassword": REP_PASSWORD})  # fmt: skip
        ids[email] = user_id
    sf.session.close()
    return ids


@dataclass
class Browserless:
    """A signed-in console session over requests."""

    relay: RelayServe
    org: RunningOrg
    http: requests.Session

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.relay.http_port}"

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, allow_redirects=False)

    def post(self, path: str, data: dict[str, str], csrf: bool = True) -> requests.Response:
        form = {**data, "csrf_token": self.csrf_token()} if csrf else data
        return self.http.post(self.base + path, data=form, allow_redirects=False)

    def csrf_token(self) -> str:
        page = self.http.get(self.base + "/settings").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, page[:500]
        return found.group(1)


def sign_in(relay: RelayServe, org: RunningOrg, username: str, password: str) -> Browserless:
    """/login -> the org's login form -> the callback -> a session."""
    http = requests.Session()
    http.trust_env = False
    http.verify = org.info.ca_file
    base = f"http://127.0.0.1:{relay.http_port}"
    to_org = http.get(base + "/login", allow_redirects=False)
    assert to_org.status_code == 302, to_org.text
    authorize = to_org.headers["Location"]
    assert authorize.startswith(org.info.instance_url + "/services/oauth2/authorize?")
    flow = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    back = http.post(
        authorize.split("?")[0],
        data={**flow, "username": username, "password": password},
        allow_redirects=False,
    )
    assert back.status_code == 302, back.text
    assert back.headers["Location"].startswith(base + "/auth/callback?")
    done = http.get(back.headers["Location"], allow_redirects=False)
    assert done.status_code == 302, done.text
    return Browserless(relay, org, http)
