"""The SMTP edge: the aiosmtpd protocol and handler, session limits, every reply
(``replies.py``, ``sender_replies.py``), who may send (``sender_checks.py``,
``senders.py``, ``authentication/``), SMTP AUTH and TLS, and the listener lifecycle
(docs/design.md §1, §4). It may import ``relay.config``, ``relay.envelope``,
``relay.errors``, ``relay.logs``, ``relay.metrics``, ``relay.reps`` and ``relay.store``;
never ``relay.delivery`` or ``relay.runners`` (it accepts and stores, and makes no
Salesforce call)."""
