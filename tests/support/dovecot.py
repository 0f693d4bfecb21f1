"""A real Dovecot for the IMAP import's tests: its own config, a throwaway Maildir, a
passwd-file user and a certificate from a private test CA, on free loopback ports with
both a STARTTLS listener (143-style) and an implicit TLS one (993-style).

Dovecot 2.3 runs here without systemd and without touching /etc/dovecot: ``dovecot -F
-c CONFIG`` with ``base_dir``, ``state_dir`` and ``log_path`` in the instance's folder.
As root, the login processes must not be root ("imap-login: Fatal: This process must
not be run as root"), so they keep the package's ``dovenull`` and ``dovecot`` users;
mail is owned by the ``dovecot`` user, because Dovecot refuses UID 0 for mail ("userdb
returned 0 as uid"), and ``first_valid_uid`` is lowered to it. The folder lives under
/tmp with short paths (UNIX sockets are limited to 108 bytes) and mode 0755, so those
users can reach the sockets and the mail. Not root: every process runs as the caller.
The chroots are off (a sandbox may not allow them) and so is the failed-login delay.

Messages are loaded with APPEND over IMAP, each with its internal date, so the dates
that SEARCH SINCE/BEFORE compare are the ones the test chose.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.tls_certificates import make_ca, make_signed_certificate

USER = "rep@example.com"
PASSWORD = "correct horse battery staple"  # a throwaway test secret
HOSTNAME = "localhost"  # the only name on the certificate: 127.0.0.1 is a mismatch


def dovecot_binary() -> str:
    """Dovecot's path; skip the test when it is missing, but fail under CI=true, where
    .ci/run installs it (a missing install must not pass as a skip)."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Dovecot is not installed; .ci/run installs dovecot-imapd")
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    return found


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Dovecot:
    """One Dovecot instance; ``start()``/``stop()`` may repeat (mail and UIDVALIDITY
    stay in its folder), ``remove()`` deletes everything."""

    tls: bool = True
    users: dict[str, str] = field(default_factory=lambda: {USER: PASSWORD})
    directory: Path = field(init=False)
    ca_file: Path = field(init=False)
    starttls_port: int = 0
    implicit_tls_port: int = 0
    _process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.binary = dovecot_binary()
        self.directory = Path(tempfile.mkdtemp(prefix="relay-dovecot-"))
        self.directory.chmod(0o755)
        ca = make_ca(self.directory / "tls", "Relay IMAP test CA")
        certificate = make_signed_certificate(ca, self.directory / "tls", [HOSTNAME])
        self.ca_file = ca.cert_file
        self._cert, self._key = certificate.cert_file, certificate.key_file
        self._owner = _mail_owner()
        home = self.directory / "home"
        home.mkdir()
        os.chown(home, self._owner.pw_uid, self._owner.pw_gid)
        passwd = self.directory / "passwd"
        passwd.write_text(
            "".join(f"{user}:{{PLAIN}}{secret}\n" for user, secret in self.users.items()),
            encoding="utf-8",
        )
        passwd.chmod(0o644)

    @property
    def log_file(self) -> Path:
        return self.directory / "dovecot.log"

    def url(
        self,
        folder: str = "INBOX",
        *,
        implicit_tls: bool = False,
        host: str = HOSTNAME,
        user: str = USER,
    ) -> str:
        scheme, port = (
            ("imaps", self.implicit_tls_port) if implicit_tls else ("imap", self.starttls_port)
        )
        return f"{scheme}://{quote(user, safe='')}@{host}:{port}/{quote(folder, safe='/')}"

    def start(self, timeout: float = 20.0) -> None:
        """Start on free ports (the same ones again after a ``stop()``)."""
        for attempt in range(3):
            if not self.starttls_port or attempt:
                self.starttls_port, self.implicit_tls_port = free_port(), free_port()
            self._write_config()
            with (self.directory / "stderr.log").open("ab") as stderr:
                self._process = subprocess.Popen(
                    [self.binary, "-F", "-c", str(self.directory / "dovecot.conf")],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,  # its own process group, stopped as one
                )
            if self._wait_ready(timeout):
                return
            self.stop()
            if "Address already in use" not in self._logs():
                break
        raise RuntimeError(f"Dovecot did not start:\n{self._logs()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM to the master and its children (our own process group), then wait;
        clients see the connection close, as in a server restart."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        _wait_until_closed(self.starttls_port)

    def freeze(self) -> None:
        """SIGSTOP the whole server (our process group): connections stay open, nothing
        answers, as with a hung server or a dead network path."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGCONT)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    @contextmanager
    def admin(self, user: str = USER) -> Iterator[imaplib.IMAP4_SSL]:
        """A logged-in client of the test itself (implicit TLS, trusting the test CA)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        imap = imaplib.IMAP4_SSL(HOSTNAME, self.implicit_tls_port, ssl_context=context, timeout=30)
        try:
            imap.login(user, self.users[user])
            yield imap
        finally:
            imap.logout()

    def append(self, folder: str, raw: bytes, received: dt.datetime) -> None:
        with self.admin() as imap:
            status, data = imap.append(f'"{folder}"', "", imaplib.Time2Internaldate(received), raw)
            assert status == "OK", data

    def create(self, folder: str) -> None:
        with self.admin() as imap:
            status, data = imap.create(f'"{folder}"')
            assert status == "OK", data

    def delete(self, folder: str) -> None:
        with self.admin() as imap:
            status, data = imap.delete(f'"{folder}"')
            assert status == "OK", data

    def expunge(self, folder: str, uids: str) -> None:
        """Delete messages for good, as another mail client would."""
        with self.admin() as imap:
            imap.select(f'"{folder}"')
            status, data = imap.uid("STORE", uids, "+FLAGS", "(\\Deleted)")
            assert status == "OK", data
            status, data = imap.expunge()
            assert status == "OK", data

    def uidvalidity(self, folder: str) -> int:
        with self.admin() as imap:
            status, data = imap.status(f'"{folder}"', "(UIDVALIDITY)")
            assert status == "OK", data
            return int(bytes(data[0]).rsplit(b"UIDVALIDITY ", 1)[1].rstrip(b")"))

    def seen_count(self, folder: str) -> int:
        with self.admin() as imap:
            imap.select(f'"{folder}"', readonly=True)
            status, data = imap.uid("SEARCH", "SEEN")
            assert status == "OK", data
            return len(bytes(data[0]).split())

    def logins(self) -> list[str]:
        """The log's login lines (successful or not), to see what a client sent."""
        return [line for line in self._logs().splitlines() if "imap-login:" in line]

    def successful_logins(self) -> list[str]:
        return [line for line in self.logins() if "imap-login: Info: Login:" in line]

    def end_session(self, login_line: str) -> None:
        """End one client's session from the server side, as an autologout does: SIGTERM
        to the imap process that serves it (``mpid=`` in its login line, a child of our
        Dovecot), which says BYE and closes the connection."""
        match = re.search(r"\bmpid=(\d+)", login_line)
        assert match is not None, login_line
        pid = int(match.group(1))
        assert self._process is not None
        assert os.getpgid(pid) == self._process.pid  # ours, not some other Dovecot's
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.02)

    def wait_for_lines(self, text: str, count: int, timeout: float = 5.0) -> list[str]:
        """The login process's lines holding ``text``, once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self.logins() if text in line]
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def next_login(self, seen: int, timeout: float = 5.0) -> str:
        """The first successful login line after the ``seen`` ones (Dovecot writes its log
        through its own log process, so the line may trail the client's reply)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.successful_logins()
            if len(lines) > seen:
                return lines[seen]
            time.sleep(0.05)
        raise AssertionError(f"no login after the first {seen} in {self.log_file}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        pending = [self.starttls_port, self.implicit_tls_port] if self.tls else [self.starttls_port]
        while pending and time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", pending[0]), timeout=1):
                    pending.pop(0)
            except OSError:
                time.sleep(0.05)
        return not pending

    def _logs(self) -> str:
        text = ""
        for name in ("dovecot.log", "stderr.log"):
            path = self.directory / name
            if path.exists():
                text += path.read_text(encoding="utf-8", errors="replace")
        return text

    def _write_config(self) -> None:
        owner, folder = self._owner, self.directory
        users = ""
        if os.geteuid() != 0:  # every process as the caller
            users = (
                f"default_internal_user = {owner.pw_name}\ndefault_login_user = {owner.pw_name}\n"
            )
        if self.tls:
            tls = f"ssl = required\nssl_cert = <{self._cert}\nssl_key = <{self._key}\n"
            tls += "disable_plaintext_auth = yes\n"
        else:  # a server that offers no STARTTLS, for the client's refusal
            tls = "ssl = no\ndisable_plaintext_auth = no\n"
        implicit = ""  # Dovecot opens no implicit TLS listener with ssl = no
        if self.tls:
            implicit = (
                "  inet_listener imaps {\n    address = 127.0.0.1\n"
                f"    port = {self.implicit_tls_port}\n    ssl = yes\n  }}\n"
            )
        config = f"""\
base_dir = {folder / "run"}
state_dir = {folder / "state"}
log_path = {self.log_file}
protocols = imap
listen = 127.0.0.1
{users}{tls}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {folder / "passwd"}
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={folder / "home"}/%u
}}
mail_location = maildir:~/Maildir
# A throwaway server: speed over durability.
mail_fsync = never
first_valid_uid = {min(owner.pw_uid, 500)}
auth_mechanisms = plain login
auth_failure_delay = 0
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0666
  }}
}}
service stats {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.starttls_port}
  }}
{implicit}}}
"""
        (folder / "dovecot.conf").write_text(config, encoding="utf-8")


def _mail_owner() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    return pwd.getpwnam("dovecot")  # made by the dovecot-core package


def _wait_until_closed(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            return
        time.sleep(0.05)


@contextmanager
def running_dovecot(*, tls: bool = True) -> Iterator[Dovecot]:
    server = Dovecot(tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.remove()
