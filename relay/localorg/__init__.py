"""The local org: an embedded Salesforce for trying, testing and benchmarking Relay. It is a
real HTTPS server (its own CA, OAuth token flows, aiohttp) speaking the subset of the
Salesforce REST API Relay uses -- sObject rows, SOQL queries, composite collections, limits,
describe -- with its data in SQLite under its data directory (``RELAY_HOME/localorg/`` by
default); see docs/localorg.md. Relay's adapter (``relay.salesforce``) reaches it only over
HTTPS, exactly as it reaches a real org, and does not know it exists. It may import
``relay.config`` and ``relay.logs`` and nothing else of Relay's; only ``relay.cli`` (which
starts it) imports it. tests/test_import_rules.py enforces both rules.
"""
