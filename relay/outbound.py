"""Mail Relay sends: forwards to Email-to-Salesforce addresses and notices to
reps, through the smarthost (``RELAY_SMARTHOST``, host:port). Blocking: call from a thread.

Errors follow relay/errors.py: a 4xx reply or a connection failure is TemporaryError (try
again later), a 5xx is Unprocessable (this message will never go there), and an unset
smarthost is NeedsAttention (an admin must set it).

Relay never writes to an unverified sender: notices go only to reps' own addresses from
the rep snapshot, and forwards only to Email-to-Salesforce addresses from Salesforce.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from relay.config import Config
from relay.errors import NeedsAttention, TemporaryError, Unprocessable
from relay.matching.model import relay_domain_predicate
from relay.privacy import strip_own_from_headers
from relay.reps.guidance import sending_disabled

TIMEOUT_SECONDS = 30.0
NOTICE_MAILBOX = "relay"


class Outbound:
    """Sends through the configured smarthost, one SMTP session per message."""

    def __init__(self, config: Config, timeout: float = TIMEOUT_SECONDS) -> None:
        self._smarthost = config.smarthost
        self._domain = config.domain
        self._is_own = relay_domain_predicate(config.domain)
        self._helo = config.smtp.hostname
        self._timeout = timeout

    @property
    def enabled(self) -> bool:
        return self._smarthost is not None

    @property
    def notice_sender(self) -> str:
        return f"{NOTICE_MAILBOX}@{self._domain}"

    def forward_original(self, raw: bytes, to: str, mail_from: str) -> None:
        """Send ``raw`` to ``to`` as it came, but for Relay's own addresses: Email to
        Salesforce reads the original headers (From, To, Cc, Message-ID) to match, so
        nothing else is rewritten.

        Email to Salesforce copies To and Cc into the Task it creates, so a rep who put
        ``log+TOKEN@`` in To or Cc would show the secret address to everyone who reads
        the Task. Those recipient fields (and a Received ``for`` clause) lose Relay's
        addresses (relay/privacy.py); a BCC copy, where the address is only in the
        envelope, goes byte for byte. A DKIM signature over a rewritten field no longer
        verifies: the secret is a credential, the signature is not needed to match
        (docs/delivery-guarantees.md, "Relay's own addresses").

        ``mail_from`` is the envelope sender: the rep's address, which Salesforce checks
        against the rep's acceptable addresses.
        """
        self._send(mail_from, to, strip_own_from_headers(raw, self._is_own))

    def send_notice(self, to: str, subject: str, text: str) -> None:
        """A plain-text notice from relay@DOMAIN. ``Auto-Submitted: auto-generated``
        (RFC 3834 §5) tells responders not to reply, and the null envelope sender
        (RFC 3834 §3.3, RFC 5321 §4.5.5) means a bounce of it goes nowhere: no loops."""
        message = EmailMessage()
        message["From"] = f"Relay <{self.notice_sender}>"
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._domain)
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"  # Exchange's equivalent
        message.set_content(text)
        # CRLF line ends (RFC 5321 §2.3.8): smtplib fixes bare LFs only in str messages,
        # and a receiver reads an LF-only body as one overlong line.
        self._send("", to, message.as_bytes(policy=message.policy.clone(linesep="\r\n")))

    def _send(self, mail_from: str, to: str, data: bytes) -> None:
        if self._smarthost is None:
            raise NeedsAttention(sending_disabled().one_line())
        host, _, port = self._smarthost.rpartition(":")
        try:
            with smtplib.SMTP(host, int(port), self._helo, timeout=self._timeout) as smtp:
                smtp.sendmail(mail_from, [to], data)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise _classify(code, reply, to) from error
        except smtplib.SMTPResponseException as error:
            raise _classify(error.smtp_code, error.smtp_error, to) from error
        except (OSError, smtplib.SMTPException) as error:  # timeouts are OSErrors
            raise TemporaryError(
                f"cannot send to {to} through {self._smarthost}: {error!r}"
            ) from error


def _classify(code: int, reply: bytes | str, to: str) -> TemporaryError | Unprocessable:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    reason = f"the smarthost refused mail to {to}: {code} {text}"
    if 400 <= code < 500:
        return TemporaryError(reason)
    return Unprocessable(reason)
