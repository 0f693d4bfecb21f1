"""What the sender refusals tell the client, over real SMTP: a personal address's owner is
never named, an outsider is never told to ask for `relay senders add`, and the 5.7.26
advice fits where the mail came from (docs/operations.md §13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.smtp.trust.trust_edge import ALICE, BOB, DOMAIN, TableChecks, run_edge

LOG = f"log@{DOMAIN}"


@pytest.mark.parametrize("sender_auth", ["personal_address", "either"])
@pytest.mark.parametrize("sender", ["mallory@evil.example", BOB.email])
def test_a_personal_address_refusal_names_no_owner(
    tmp_path: Path, sender_auth: str, sender: str
) -> None:
    """Mallory (or Bob) writing to Alice's personal address learns neither whose it is
    nor to have themselves added to it; the rep is told to use their own."""
    for edge in run_edge(tmp_path, TableChecks(), sender_auth=sender_auth):
        code, reply = edge.send(sender, edge.personal(ALICE))
        assert code == 550
        assert reply.startswith(f"5.7.1 <{sender}> may not use this personal Relay address")
        assert "alice" not in reply.lower()
        assert "senders add" not in reply
        assert "send to your own" in reply
        assert "ask your admin" in reply
        assert "your admin adds it for that rep" in reply
        assert edge.store.list() == []


def test_not_authenticated_from_a_direct_client_says_where_to_send_from(
    tmp_path: Path,
) -> None:
    for edge in run_edge(tmp_path, TableChecks()):
        code, reply = edge.send(ALICE.email, LOG)
        assert code == 550
        assert reply.startswith(f"5.7.26 <{ALICE.email}> is not authenticated")
        assert "send from your organisation's mail server" in reply
        assert "(`relay address YOUR-EMAIL` prints it; ask your admin)" in reply


def test_not_authenticated_through_the_trusted_hop_asks_for_its_signature(
    tmp_path: Path,
) -> None:
    """The mail already came through the organisation's server: telling the rep to send
    from it would be wrong; it must sign (DKIM), which the admin sets up."""
    for edge in run_edge(tmp_path, TableChecks(), trusted_networks=("127.0.0.1/32",)):
        code, reply = edge.send(ALICE.email, LOG)
        assert code == 550
        assert reply.startswith(f"5.7.26 <{ALICE.email}> is not authenticated")
        assert "send from your organisation's mail server" not in reply
        assert "must sign it with DKIM (ask your admin)" in reply
        assert "(`relay address YOUR-EMAIL` prints it; ask your admin)" in reply
