"""`relay import` with relay serve on PostgreSQL: the chunk and its cursor in one
transaction (psycopg's pipeline mode, the NOTIFY that wakes the workers), SIGKILL and
resume, one Task per email."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.importing.test_import_command import (
    assert_one_task_per_email,
    lines,
    mailbox_of,
    read_until,
)
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP
from tests.support.serve import RelayServe


def test_import_killed_and_resumed_on_postgresql(
    org: RunningOrg, postgres_schema_url: str, tmp_path: Path
) -> None:
    serve = RelayServe(
        tmp_path / "relay", env=org.env() | {"RELAY_STORE_URL": postgres_schema_url}
    ).start()
    try:
        n = 300
        path = mailbox_of(tmp_path, "postgres", n)
        command = [sys.executable, "-m", "relay", "import", str(path), "--user", REP, "--json"]
        with subprocess.Popen(
            [*command, "--window", "40"],
            env=serve.full_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                seen = read_until(process, 60)
            finally:
                process.kill()
                process.communicate(timeout=30)
        assert seen["read"] < n
        done = subprocess.run(
            command, env=serve.full_env(), capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr
        final = lines(done.stdout)[-1]
        assert (final["state"], final["read"], final["logged"]) == ("done", n, n)
        assert_one_task_per_email(org, "postgres", n)
    finally:
        serve.stop()
