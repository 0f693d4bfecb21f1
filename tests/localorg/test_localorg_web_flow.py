"""The local org's OAuth 2.0 web server flow with PKCE: the authorize page, the code
exchange, the identity URL and userinfo, and Salesforce's errors for each misuse."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.localorg import RunningOrg, https_session

CALLBACK = "http://127.0.0.1:8025/auth/callback"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _flow(org: RunningOrg, challenge: str, redirect_uri: str = CALLBACK) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": org.info.client_id,
        "redirect_uri": redirect_uri,
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


def _login(http: requests.Session, org: RunningOrg, flow: dict[str, str], password: str) -> str:
    """Post the login form; the Location of the redirect to the callback."""
    authorize = f"{org.info.instance_url}/services/oauth2/authorize"
    form = {**flow, "username": org.info.username, "password": password}
    response = http.post(authorize, data=form, allow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def _exchange(http: requests.Session, org: RunningOrg, **extra: str) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": org.info.client_id,
        "client_secret": org.info.client_secret,
        "redirect_uri": CALLBACK,
        **extra,
    }
    return http.post(org.info.token_url, data=form)


def test_login_page_has_the_named_inputs_and_one_submit_button(local_org: RunningOrg) -> None:
    """GET authorize shows a form with username, password and exactly one submit button."""
    with https_session(local_org.info) as http:
        page = http.get(
            f"{local_org.info.instance_url}/services/oauth2/authorize",
            params=_flow(local_org, _pkce()[1]),
        )
    assert page.status_code == 200
    assert 'name="username"' in page.text
    assert 'name="password"' in page.text
    assert len(re.findall(r'type="submit"', page.text)) == 1


def test_code_exchange_with_pkce_gives_a_token_for_the_user(local_org: RunningOrg) -> None:
    """Login -> code and state on the callback -> token; identity and userinfo name the User."""
    verifier, challenge = _pkce()
    with https_session(local_org.info) as http:
        location = _login(http, local_org, _flow(local_org, challenge), local_org.info.password)
        assert location.startswith(CALLBACK + "?")
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == ["st-123"]
        response = _exchange(http, local_org, code=query["code"][0], code_verifier=verifier)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["instance_url"] == local_org.info.instance_url
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        identity = http.get(body["id"], headers=headers).json()
        userinfo = http.get(
            f"{local_org.info.instance_url}/services/oauth2/userinfo", headers=headers
        ).json()
        # The token works on the REST API too.
        limits = http.get(
            f"{local_org.info.instance_url}/services/data/v62.0/limits", headers=headers
        )
    assert identity["user_id"] == local_org.info.user_id
    assert identity["username"] == local_org.info.username
    assert identity["organization_id"] == local_org.info.org_id
    assert userinfo["user_id"] == local_org.info.user_id
    assert userinfo["preferred_username"] == local_org.info.username
    assert userinfo["zoneinfo"] == "America/Los_Angeles"
    assert userinfo["sub"] == body["id"]
    assert limits.status_code == 200


def test_a_code_works_once(local_org: RunningOrg) -> None:
    """The second exchange of one code is invalid_grant "expired authorization code"."""
    verifier, challenge = _pkce()
    with https_session(local_org.info) as http:
        location = _login(http, local_org, _flow(local_org, challenge), local_org.info.password)
        code = parse_qs(urlsplit(location).query)["code"][0]
        first = _exchange(http, local_org, code=code, code_verifier=verifier)
        second = _exchange(http, local_org, code=code, code_verifier=verifier)
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json() == {
        "error": "invalid_grant",
        "error_description": "expired authorization code",
    }


def test_a_wrong_code_verifier_is_refused(local_org: RunningOrg) -> None:
    """A verifier that does not hash to the challenge is invalid_grant, and no token."""
    _verifier, challenge = _pkce()
    with https_session(local_org.info) as http:
        location = _login(http, local_org, _flow(local_org, challenge), local_org.info.password)
        code = parse_qs(urlsplit(location).query)["code"][0]
        response = _exchange(http, local_org, code=code, code_verifier=secrets.token_urlsafe(48))
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "invalid code verifier",
    }


def test_a_missing_code_verifier_is_refused(local_org: RunningOrg) -> None:
    """A code issued with a challenge needs its verifier."""
    _verifier, challenge = _pkce()
    with https_session(local_org.info) as http:
        location = _login(http, local_org, _flow(local_org, challenge), local_org.info.password)
        code = parse_qs(urlsplit(location).query)["code"][0]
        response = _exchange(http, local_org, code=code)
    assert response.json()["error_description"] == "invalid code verifier"


@pytest.mark.parametrize(
    "redirect_uri", ["https://evil.example/callback", "ftp://127.0.0.1/x", "not a url"]
)
def test_a_callback_outside_the_app_is_an_error_page_never_a_redirect(
    local_org: RunningOrg, redirect_uri: str
) -> None:
    """A redirect_uri the connected app does not allow: 400 at the org, no Location."""
    with https_session(local_org.info) as http:
        page = http.get(
            f"{local_org.info.instance_url}/services/oauth2/authorize",
            params=_flow(local_org, _pkce()[1], redirect_uri=redirect_uri),
            allow_redirects=False,
        )
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert "error=redirect_uri_mismatch" in page.text


def test_an_unknown_client_id_is_an_error_page(local_org: RunningOrg) -> None:
    flow = {**_flow(local_org, _pkce()[1]), "client_id": "3MVG9nobody"}
    with https_session(local_org.info) as http:
        page = http.get(
            f"{local_org.info.instance_url}/services/oauth2/authorize",
            params=flow,
            allow_redirects=False,
        )
    assert page.status_code == 400
    assert "error=invalid_client_id" in page.text


def test_exchange_with_another_redirect_uri_is_refused(local_org: RunningOrg) -> None:
    verifier, challenge = _pkce()
    with https_session(local_org.info) as http:
        location = _login(http, local_org, _flow(local_org, challenge), local_org.info.password)
        code = parse_qs(urlsplit(location).query)["code"][0]
        response = _exchange(
            http, local_org, code=code, code_verifier=verifier,
            redirect_uri="http://127.0.0.1:9999/other",
        )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == "redirect_uri_mismatch"


def test_cancel_redirects_with_access_denied(local_org: RunningOrg) -> None:
    """The login page's Cancel sends the callback error=access_denied and the state."""
    with https_session(local_org.info) as http:
        response = http.get(
            f"{local_org.info.instance_url}/services/oauth2/authorize/deny",
            params=_flow(local_org, _pkce()[1]),
            allow_redirects=False,
        )
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["st-123"]


def test_a_wrong_password_shows_the_login_page_again(local_org: RunningOrg) -> None:
    with https_session(local_org.info) as http:
        form = {**_flow(local_org, _pkce()[1]), "username": local_org.info.username,
                "password": "wrong"}  # fmt: skip
        page = http.post(
            f"{local_org.info.instance_url}/services/oauth2/authorize",
            data=form,
            allow_redirects=False,
        )
    assert page.status_code == 200
    assert "Please check your username and password" in page.text


def test_a_rep_logs_in_with_the_password_set_through_the_api(local_org: RunningOrg) -> None:
    """POST sobjects/User/{id}/password sets a User's password; that User then logs in."""
    sf = local_org.client()
    profile = sf.query("SELECT Id FROM Profile WHERE Name = 'Standard User'")["records"][0]["Id"]
    username = f"rep-{secrets.token_hex(3)}@example.com"
    created = sf.User.create(
        {"Username": username, "LastName": "Rep", "Email": username, "Alias": "rep",
         "TimeZoneSidKey": "Europe/Paris", "LocaleSidKey": "fr_FR",
         "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "fr", "ProfileId": profile}
    )  # fmt: skip
    status = sf.restful(f"sobjects/User/{created['id']}/password", method="POST",
                        json={"NewPassword": "correct horse 42"})  # fmt: skip
    assert status is None  # 204
    verifier, challenge = _pkce()
    with https_session(local_org.info) as http:
        authorize = f"{local_org.info.instance_url}/services/oauth2/authorize"
        form = {**_flow(local_org, challenge), "username": username, "password": "correct horse 42"}
        location = http.post(authorize, data=form, allow_redirects=False).headers["Location"]
        code = parse_qs(urlsplit(location).query)["code"][0]
        token = _exchange(http, local_org, code=code, code_verifier=verifier).json()
        userinfo = http.get(
            f"{local_org.info.instance_url}/services/oauth2/userinfo",
            headers={"Authorization": f"Bearer {token['access_token']}"},
        ).json()
        admin = sf.query(
            f"SELECT Profile.PermissionsModifyAllData FROM User WHERE Id = '{created['id']}'"
        )["records"][0]
    sf.session.close()
    assert userinfo["preferred_username"] == username
    assert userinfo["zoneinfo"] == "Europe/Paris"
    assert admin["Profile"]["PermissionsModifyAllData"] is False


def test_userinfo_without_a_token_is_refused(local_org: RunningOrg) -> None:
    with https_session(local_org.info) as http:
        response = http.get(f"{local_org.info.instance_url}/services/oauth2/userinfo")
    assert response.status_code == 403


def test_revoke_ends_the_access_token(local_org: RunningOrg) -> None:
    """POST /services/oauth2/revoke: 200, then the token is refused; again: invalid_token."""
    verifier, challenge = _pkce()
    with https_session(local_org.info) as http:
        location = _login(http, local_org, _flow(local_org, challenge), local_org.info.password)
        code = parse_qs(urlsplit(location).query)["code"][0]
        token = _exchange(http, local_org, code=code, code_verifier=verifier).json()["access_token"]
        limits = f"{local_org.info.instance_url}/services/data/v62.0/limits"
        headers = {"Authorization": f"Bearer {token}"}
        assert http.get(limits, headers=headers).status_code == 200
        revoke = f"{local_org.info.instance_url}/services/oauth2/revoke"
        assert http.post(revoke, data={"token": token}).status_code == 200
        assert http.get(limits, headers=headers).status_code == 401
        again = http.post(revoke, data={"token": token})
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_token"}
