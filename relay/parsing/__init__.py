"""Pure parsing: raw bytes + envelope -> a frozen Email value. No I/O (docs/design.md §1).
It may import only ``relay.envelope``; matching, delivery, the edge and the CLI read it."""

from relay.parsing.model import Address, Attachment, Email, ForwardedOriginal, JournalReport
from relay.parsing.parser import parse

__all__ = ["Address", "Attachment", "Email", "ForwardedOriginal", "JournalReport", "parse"]
