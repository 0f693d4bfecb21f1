"""End to end: SMTP -> store -> runners -> the local org over HTTPS, read back as a client."""

from __future__ import annotations

from pipeline_helpers import Org, Serve, email, wait_for


def test_contact_with_two_open_opportunities_and_a_closed_one(org: Org, serve: Serve) -> None:
    """An email to Hank is logged on Hank and his two open opportunities, not the closed one."""
    seeded = org.seeded
    hank = seeded.sample.contacts["hank@globex.example"]
    serve.send(email(["hank@globex.example"], "Rollout plan"))
    tasks = wait_for(lambda: org.tasks("Subject = 'Email: Rollout plan'"), what="tasks")
    wait_for(lambda: len(org.tasks("Subject = 'Email: Rollout plan'")) >= 2, what="2 tasks")
    tasks = org.tasks("Subject = 'Email: Rollout plan'")
    whats = sorted(t["WhatId"] for t in tasks)
    assert whats == sorted(seeded.hank_open_opportunities)
    assert seeded.hank_closed_opportunity not in whats
    assert [t["WhoId"] for t in tasks].count(hank) == 1
