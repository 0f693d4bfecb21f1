"""The `relay` command line (DESIGN.md §3). Thin: each command calls the same APIs as the daemon."""
