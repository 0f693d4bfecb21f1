"""A rep's acceptable addresses on /settings: a rep adds one through a confirmation link
sent to it (only that rep's session can use the link), removes it; an admin adds one
directly."""

from __future__ import annotations

import email
import email.policy
import json
import re
from urllib.parse import urlsplit

from tests.console.console_helpers import ALICE, BOB, REP_PASSWORD, sign_in
from tests.support.localorg import RunningOrg
from tests.support.pipeline import wait_for
from tests.support.serve import RelayServe
from tests.support.smtp_sink import CaptureSmtp


def _aliases(relay: RelayServe) -> dict[str, str]:
    listed = json.loads(relay.cli("senders", "list", "--json").stdout)
    return {item["alias"]: item["username"] for item in listed}


def test_a_rep_adds_an_address_by_its_confirmation_link(
    console_relay: RelayServe, console_org: RunningOrg, console_sink: CaptureSmtp
) -> None:
    bob = sign_in(console_relay, console_org, BOB, REP_PASSWORD)
    address = "bob.mobile@example.net"
    assert bob.post("/settings/senders", {"address": address}).status_code == 302
    assert "We sent a link" in bob.get("/settings").text
    assert address not in _aliases(console_relay)  # not before the link is opened
    sent = wait_for(
        lambda: next((m for m in console_sink.messages if m.rcpt_tos == (address,)), None),
        what="the confirmation email",
    )
    body = email.message_from_bytes(sent.data, policy=email.policy.default)
    text = body.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"http://\S+", text)
    assert link is not None
    path = urlsplit(link.group(0))
    target = f"{path.path}?{path.query}"

    alice = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    assert alice.get(target).status_code == 403  # the link works for Bob only
    assert address not in _aliases(console_relay)
    tampered = target.replace("bob.mobile", "bob.other")
    assert bob.get(tampered).status_code == 403

    assert bob.get(target).status_code == 302
    assert _aliases(console_relay)[address] == BOB
    assert alice.post("/settings/senders/remove", {"address": address}).status_code == 403
    assert bob.post("/settings/senders/remove", {"address": address}).status_code == 302
    assert address not in _aliases(console_relay)


def test_an_admin_adds_an_address_directly(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    admin = sign_in(
        console_relay, console_org, console_org.info.username, console_org.info.password
    )
    assert admin.post("/settings/senders", {"address": "ops@example.net"}).status_code == 302
    assert _aliases(console_relay)["ops@example.net"] == console_org.info.username


def test_a_bad_address_changes_nothing(console_relay: RelayServe, console_org: RunningOrg) -> None:
    bob = sign_in(console_relay, console_org, BOB, REP_PASSWORD)
    before = _aliases(console_relay)
    assert bob.post("/settings/senders", {"address": "not an address"}).status_code == 302
    assert "is not an email address" in bob.get("/settings").text
    assert _aliases(console_relay) == before
