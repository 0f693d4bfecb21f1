"""Shared by the deploy/ checks: the repository paths and a real `relay serve` (the
tests' launcher, tests/support/serve.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.serve import LOCAL_TRIAL, RelayServe

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
REP = "alice@acme-widgets.example"
RELAY_DOMAIN = "relay.example.com"  # the domain the deploy/ samples use


@contextmanager
def serve(home: Path, **extra_env: str) -> Iterator[RelayServe]:
    """Run `relay serve` in ``home`` (the deploy/ samples' domain, the trial trust of the
    README's swaks step: deploy/postfix/README.md, step 1) until the block ends."""
    relay = RelayServe(home, env={"RELAY_DOMAIN": RELAY_DOMAIN, **extra_env}, trust=LOCAL_TRIAL)
    home.mkdir(parents=True, exist_ok=True)
    # The sample org's reps (REP): under the trial trust a sender must be a rep's address,
    # as the README's swaks step says ("use a rep's address as --from").
    seeded = relay.cli("org", "seed", "--sample")
    assert seeded.returncode == 0, seeded.stderr
    relay.start()
    try:
        yield relay
    finally:
        relay.stop(timeout=30)
