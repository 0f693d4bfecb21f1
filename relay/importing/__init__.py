"""Importing past email: sources (files and IMAP) feed the same pipeline as live mail
(docs/design.md §11)."""
