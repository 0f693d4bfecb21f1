"""The two-way sync of reminders with Salesforce Tasks (docs/design.md §9).

- ``mapping``: the field map between a reminder and a Task, and the hash of the mapped
  fields that tells Relay's own writes from real changes (pure);
- ``merge``: the conflict rule, one reminder/Task pair at a time (pure);
- ``engine``: one sync cycle: the poll, the imports, the pushes, the store writes (I/O).
"""
