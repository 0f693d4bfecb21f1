"""Everything that talks to Salesforce (docs/design.md §1), and the local org
(docs/localorg.md)."""
