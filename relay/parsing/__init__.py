"""Pure parsing: raw bytes + envelope -> a frozen Email value. No I/O (DESIGN.md §1)."""
