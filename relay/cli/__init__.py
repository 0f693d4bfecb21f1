"""The `relay` command line (docs/design.md §8). Thin: each command calls the same APIs
as the daemon."""
