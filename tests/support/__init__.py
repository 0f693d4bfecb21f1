"""Helpers shared by the test folders: import them as ``tests.support.<module>``.

tests/conftest.py loads ``tests.support.plugin`` (the fixtures every folder may use);
the rest are plain modules: ``serve`` (the `relay serve` launcher), ``processes`` (its
process tree from /proc), ``localorg`` (the
local org launcher and clients), ``smtp_sink``, ``store_backends``, ``dns_zone``,
``tls_certificates``, ``terminal_output``, ``damaged_sqlite`` and ``pipeline`` (the
end-to-end seed, mail and waits)."""
