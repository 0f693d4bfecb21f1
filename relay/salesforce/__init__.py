"""Everything that talks to Salesforce, and the local org (DESIGN.md §1, §4)."""
