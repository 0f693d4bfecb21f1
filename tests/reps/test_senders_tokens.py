"""Personal-address tokens in the rep snapshot: the edge looks one up for every message
to ``log+TOKEN@``, so a lookup must not cost one HMAC per rep (with a thousand reps it
did, about 15 ms of CPU per message; docs/benchmarks.md, "Sender checks at the edge")."""

from __future__ import annotations

import pytest

import relay.reps.directory
from relay.reps.directory import SenderDirectory, address_token
from relay.store.model import Rep

SECRET = bytes(range(32))
REPS = [Rep(f"005{n:012d}AAA", f"rep{n}@acme.example", f"rep{n}@acme.example") for n in range(2000)]


def test_each_token_finds_its_rep_without_hashing_every_reps_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory = SenderDirectory.build(REPS, secret=SECRET)
    tokens = [address_token(rep.user_id, SECRET) for rep in REPS[::100]]
    hashed: list[str] = []

    def counting_token(user_id: str, secret: bytes) -> str:
        hashed.append(user_id)
        return address_token(user_id, secret)

    monkeypatch.setattr(relay.reps.directory, "address_token", counting_token)
    found = [directory.rep_for_token(f" {token.upper()} ") for token in tokens]
    assert found == REPS[::100]
    assert hashed == []


def test_a_token_that_is_nobodys_or_a_snapshot_without_secret_finds_no_rep() -> None:
    token = address_token(REPS[0].user_id, SECRET)
    assert SenderDirectory.build(REPS, secret=SECRET).rep_for_token("aaaaaaaaaaaa") is None
    assert SenderDirectory.build(REPS, secret=SECRET).rep_for_token(token) == REPS[0]
    assert SenderDirectory.build(REPS).rep_for_token(token) is None
    inactive = Rep(REPS[0].user_id, REPS[0].username, REPS[0].email, is_active=False)
    assert SenderDirectory.build([inactive], secret=SECRET).rep_for_token(token) is None
