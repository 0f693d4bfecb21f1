"""The web console (docs/design.md §10): reps' sync settings, tasks and activity, and the
admin's queue, served by the edge on the health listener and signed in with Salesforce
(the OAuth 2.0 web server flow with PKCE).

- ``oauth.py``: the flow, client side (pure parts, then the calls to the org);
- ``context.py``: the ``Console`` dependencies, the signed-in User, rendering;
- ``security.py``: sessions (encrypted cookie), CSRF, error pages, headers;
- ``pages_*.py``: one module per page; ``templates/`` one template per page;
- ``build.py``: the ``Console`` from the configuration.
"""
