"""deploy/postfix: the README's swaks procedure works against a real relay, and the maps agree."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.deploy.deploy_helpers import DEPLOY, RELAY_DOMAIN, REP
from tests.support.serve import RelayServe

POSTFIX = DEPLOY / "postfix"
SWAKS = shutil.which("swaks")
needs_swaks = pytest.mark.skipif(SWAKS is None, reason="swaks is not installed")


def swaks(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SWAKS), "--server", "127.0.0.1", "--port", str(port), "--timeout", "20", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_swaks
def test_swaks_message_shows_in_relay_queue_list(running_relay: RelayServe) -> None:
    """README step 1 and 3: swaks gets 250 queued, and `relay queue list` shows the message."""
    result = swaks(
        running_relay.smtp_port,
        "--from", REP,
        "--to", f"log@{RELAY_DOMAIN}",
        "--header", "Subject: Relay deploy test",
        "--body", "Hello from swaks",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    queued = re.search(r"<-\s+250 2\.0\.0 Ok: queued as (\S+)", result.stdout)
    assert queued is not None, result.stdout
    listing = running_relay.cli("queue", "list", "--state", "all", "--json")
    assert listing.returncode == 0, listing.stderr
    by_id = {item["id"]: item for item in json.loads(listing.stdout)}
    message = by_id[queued.group(1)]
    assert message["subject"] == "Relay deploy test"
    assert message["mail_from"] == REP


@needs_swaks
def test_swaks_to_another_domain_is_refused(running_relay: RelayServe) -> None:
    """README step 1: another domain gets 550 5.7.1 (never an open relay)."""
    result = swaks(running_relay.smtp_port, "--from", REP, "--to", "buyer@customer.example")
    assert result.returncode != 0
    assert "550 5.7.1" in result.stdout


def test_maps_route_the_relay_domain_to_relay() -> None:
    """The transport map sends the relay domain to 127.0.0.1:2525; reps' sent mail goes to
    log@, their received mail to the inbound source's secret address (a placeholder)."""
    entries = map_entries("transport")
    assert entries[RELAY_DOMAIN] == "smtp:[127.0.0.1]:2525"
    assert set(map_entries("sender_bcc").values()) == {f"log@{RELAY_DOMAIN}"}
    assert set(map_entries("recipient_bcc").values()) == {f"log+inbound-SECRET@{RELAY_DOMAIN}"}


def test_main_cf_uses_the_shipped_maps() -> None:
    """main.cf's active lines point each *_maps parameter at a map file shipped here."""
    active = {}
    for line in (POSTFIX / "main.cf").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            active[key.strip()] = value.strip()
    assert active["relay_domains"] == RELAY_DOMAIN
    for parameter in ("transport_maps", "sender_bcc_maps", "recipient_bcc_maps"):
        kind, _, path = active[parameter].partition(":")
        assert kind == "hash"
        assert (POSTFIX / path.removeprefix("/etc/postfix/")).is_file(), parameter


def map_entries(name: str) -> dict[str, str]:
    entries = {}
    for line in (POSTFIX / name).read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split()
            entries[key] = value
    return entries


def test_container_postfix_relays_for_its_own_host_only() -> None:
    """mynetworks is the container's loopback: behind a userland proxy every client
    appears from a private address, so private ranges would make an open relay."""
    containerfile = (DEPLOY / "container" / "postfix.Containerfile").read_text()
    (setting,) = re.findall(r'"mynetworks = ([^"]*)"', containerfile)
    assert setting.split() == ["127.0.0.0/8", "[::1]/128"]
    assert '"smtp_send_xforward_command = yes"' in containerfile


def test_main_cf_forwards_the_original_client_to_relay() -> None:
    """XFORWARD on, so Relay checks SPF for the original client (and never mynetworks)."""
    active = {}
    for line in (POSTFIX / "main.cf").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            active[key.strip()] = value.strip()
    assert active["smtp_send_xforward_command"] == "yes"
    assert "mynetworks" not in active
