"""Matching: a pure function from an Email and a Directory snapshot to a MatchPlan, and
the E2S-shaped Task drafts built from it (docs/design.md §1). It does no I/O and may
import only ``relay.parsing`` (the Email it reads) and ``relay.privacy`` (what a Task
may show)."""

from relay.matching.drafts import TaskDraft, draft_tasks, relay_key
from relay.matching.match import match
from relay.matching.model import (
    Ambiguous,
    Directory,
    MatchedRecord,
    MatchPlan,
    MatchPolicy,
    Opportunity,
    Person,
    RecordRef,
    User,
)

__all__ = [
    "Ambiguous",
    "Directory",
    "MatchPlan",
    "MatchPolicy",
    "MatchedRecord",
    "Opportunity",
    "Person",
    "RecordRef",
    "TaskDraft",
    "User",
    "draft_tasks",
    "match",
    "relay_key",
]
