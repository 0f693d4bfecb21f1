"""The Salesforce adapter, and only that: the code that talks to a Salesforce org over its REST
API -- auth (token flows), client (HTTP, retries, timeouts), classify (what a Salesforce
error means for a message), directory (the reps and contacts Relay matches against), writes
(Tasks and their links, exactly once) and budget (the daily API share) -- docs/design.md §1.
It does not know whether the org is real or the embedded local org (``relay.localorg``,
which it never imports). It may import ``relay.config``, ``relay.errors``, ``relay.logs``
and ``relay.matching``'s model, and nothing else of Relay's.
"""
