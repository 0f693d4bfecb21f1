"""Pure parsing: raw bytes + envelope -> a frozen Email value. No I/O (docs/design.md §1)."""

from relay.parsing.model import Address, Attachment, Email, ForwardedOriginal, JournalReport
from relay.parsing.parser import parse

__all__ = ["Address", "Attachment", "Email", "ForwardedOriginal", "JournalReport", "parse"]
