"""The durable queue: messages, their states and transitions (DESIGN.md §1, §2)."""
