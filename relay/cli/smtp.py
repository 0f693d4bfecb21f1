"""`relay smtp hash-password`: a password hash for ``smtp.auth_users``.

SMTP AUTH credentials are stored hashed (relay.smtp.credentials gives the format), so an
admin makes the hash here and puts ``USER:HASH`` in RELAY_SMTP_AUTH_USERS. The password is
read from a prompt (typed twice, not echoed) or, when stdin is not a terminal, from its
first line, so that it never appears in the shell history or the process list.
"""

from __future__ import annotations

import sys

import click

from relay.smtp.credentials import hash_password

USAGE_ERROR = 2


@click.group()
def smtp() -> None:
    """SMTP listener tools."""


@smtp.command("hash-password")
@click.option(
    "--user", "user", help="Print USER:HASH, ready for RELAY_SMTP_AUTH_USERS (comma-separated)."
)
def hash_password_command(user: str | None) -> None:
    """Hash an SMTP AUTH password read from a prompt or stdin."""
    if user is not None and (not user or ":" in user or "," in user):
        raise click.UsageError("--user must be non-empty, without ':' or ','")
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        click.echo("relay smtp hash-password: empty password", err=True)
        raise SystemExit(USAGE_ERROR)
    hashed = hash_password(password)
    click.echo(f"{user}:{hashed}" if user is not None else hashed)
