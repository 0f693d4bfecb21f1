"""Full-size chaos runs (issues 5 and 7), the same harness as tests/chaos.

    .venv/bin/python bench/chaos.py [--messages 1000] [--kills 3]
    RELAY_TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/chaos.py --cluster \
        [--messages 1500]

Single node: SQLite, SIGKILLed and restarted ``--kills`` times. Cluster: three nodes on
one PostgreSQL schema, one SIGKILLed for good, five emails sent to two nodes at once.
Both under 10 % transient faults; then faults off, drain, and the exactly-once audit.
Exit 0 when no message answered 250 is lost, duplicated or left unlogged.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: F401  (puts the repository root on sys.path)

from tests.chaos.chaos_harness import postgres_schema, run_chaos, run_cluster_chaos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cluster", action="store_true")
    parser.add_argument("--messages", type=int)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-bench-chaos-") as tmp:
        if not args.cluster:
            result = run_chaos(Path(tmp), messages=args.messages or 1000, kills=args.kills)
        else:
            postgres = os.environ.get("RELAY_TEST_POSTGRES_URL")
            if not postgres:
                print("--cluster needs PostgreSQL: set RELAY_TEST_POSTGRES_URL", file=sys.stderr)
                return 2
            with postgres_schema(postgres) as store_url:
                result = run_cluster_chaos(
                    Path(tmp),
                    messages=args.messages or 1500,
                    store_url=store_url,
                    drain_seconds=300,
                )
    print(result.report())
    if not result.audit.ok:
        print(result.audit.summary())
    return 0 if result.audit.ok else 1


if __name__ == "__main__":
    sys.exit(main())
