"""The delivery stage's steps: what happens to one claimed batch (docs/design.md §1, §3).

In the manner of GNU Mailman's handlers, each step is a small module: route (parse and
attribute), decide (by the rep's sync settings), directory, plan (pure: match and
draft), write (Tasks exactly once), fallback (Email to Salesforce), attachments,
confirm, with the holds, notices, org profile and rep view they share; pipeline runs one
batch through them, and outcomes is the one table from what happened to a message's
state and reason. It may import the packages below it (store, salesforce, reps,
matching, parsing, outbound, config, errors, logs, metrics), never ``relay.runners``
(whose delivery loop calls it), ``relay.smtp``, ``relay.daemon`` or ``relay.cli``. Its
loggers keep their ``relay.runners.*`` names from before the steps moved here: the
logger name is in every log line, and operators filter on it.
"""
