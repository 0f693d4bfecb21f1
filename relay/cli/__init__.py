"""The `relay` command line (docs/design.md §8). Thin: each command calls the same APIs
as the daemon, and starts the embedded local org when one is needed. It may import
every package of Relay; nothing imports it but ``relay.__main__`` (and the supervisor,
which runs its hidden commands as child processes)."""
