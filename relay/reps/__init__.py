"""Who the reps are and what they chose: the rep directory and personal addresses
(``directory``), the shared snapshot of reps and sync settings that the SMTP edge and the
runners both read (``snapshot``), the per-rep sync settings (``settings``), the reps'
Email-to-Salesforce addresses (``e2s_addresses``) and the guidance texts for reps and
admins (``guidance``). It may import ``relay.config`` and ``relay.store`` (the reps,
aliases and overrides are stored there); never ``relay.smtp``, ``relay.runners`` or
``relay.cli``, so the edge and the delivery loops share it without depending on each
other (docs/design.md §7).
"""
