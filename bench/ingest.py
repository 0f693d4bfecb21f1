"""Ingest benchmark: `relay serve` (and Relay's SMTP edge) against a bare aiosmtpd sink,
round by round in one run, with the SMTP-to-Task throughput and the cost per process.

    .venv/bin/python bench/ingest.py [--messages 5000] [--rounds 5] [--connections 8]
        [--size 2048] [--relay serve,serve:w0] [--workers N] [--json FILE]
        [--big-clients 0] [--big-mb 20]

``--relay`` lists the Relay modes to run beside the sink (comma-separated):

- ``serve``: `relay serve` as shipped: the supervisor, the edge, ``--workers`` delivery
  workers (its default: CPUs minus one, at least 1; ``--workers N`` passes N) and, with no
  Salesforce credentials, the embedded local org in its own process (docs/design.md §2);
- ``serve:wN``: the same with ``--workers N``; ``serve:w0`` is the single process
  (listener, runners and local org together), the mode before the supervisor;
- a ``:uvloop`` or ``:asyncio`` suffix sets RELAY_EVENT_LOOP for that mode (relay/loops.py;
  without one, ``auto``: uvloop when installed), e.g. ``serve:w0:asyncio``;
- ``:nice-org`` (an experiment): the bench renices the local org process's threads to
  the workers' nice 10 once it is up;
- ``:no-yield``: workers do not step back during a burst (RELAY_PIPELINE_YIELD_MIN_RATE=0;
  relay/accepting.py), the shipped behaviour before "accepting comes first";
- ``:idle-delivery`` (an experiment): the bench puts the workers' and the local org's
  threads under SCHED_IDLE (sched(7)) once they are up;
- ``edge``: Relay's daemon without any runner, org or sender check (ingest alone, the
  earlier figure);
  ``both`` means ``edge,serve``.

Every server is a subprocess and all run for the whole benchmark; each round sends
``--messages / --rounds`` messages to each server in turn (the order rotates per round),
so all see the same background load on a shared machine. The sink is aiosmtpd's ``SMTP``
on ``loop.create_server`` with Relay's line and size limits and a handler that answers
250, on the standard loop. The client is one asyncio process, the same code and the same
messages for every server: MAIL FROM a rep of the local org's sample data (``relay org
seed --sample``, loaded before the start) to log@, with localhost as the reps' own mail
server (the quick start's trust), To one of its Contacts, so that each becomes a Task.

Per round and server: SMTP msg/s (first MAIL to the last 250) and relay/sink against the
same round's sink; for serve modes, emails/s to Task: from the first MAIL until the
store counts every message of the round ``logged`` (``relay_queue_messages`` on the
edge's /metrics, polled every 0.1 s once the last 250 is in; any other final state
stops the bench); CPU (utime + stime, /proc/PID/stat) of each process of the server over
the round (sending and delivery), per email, by role (supervisor, edge, worker, local org,
or the single process). After the rounds: RSS (VmRSS), peak RSS (VmHWM) and PSS
(smaps_rollup, which shares pages fairly between processes) of every process; and the
CPU each server used while the others were measured (idle cost). Prints the median and
the min-max over the rounds. ``--big-clients N`` then sends N messages of ``--big-mb`` MB
at once to the first Relay mode and prints its edge's peak RSS.

A script, not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _cpu import process_cpu_seconds
from aiosmtpd.smtp import SMTP

from relay import loops
from relay.config import DEFAULT_MAX_MESSAGE_BYTES, SmtpConfig

DOMAIN = "relay.example"
# The reps' own mail server is localhost (the quick start's trial trust): a rep's mail
# is accepted as the rep's, without SPF or DKIM checks, and becomes a Task.
TRUST = {
    "RELAY_SMTP_TRUSTED_NETWORKS": "127.0.0.1/32,::1/128",
    "RELAY_SMTP_SENDER_AUTH": "trusted_only",
}
REP = "alice@acme-widgets.example"  # relay/localorg/seed.py's first rep
CONTACT = "hank@globex.example"  # and one of its Contacts
RCPT = f"log@{DOMAIN}"
LINE = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
POLL_SECONDS = 0.1
PENDING_STATES = ("queued", "processing", "deferred")


# --- the sink ----------------------------------------------------------------------------


class SinkHandler:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


class SinkSMTP(SMTP):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.line_length_limit = SmtpConfig().max_line_bytes + 3  # same as relay
        super().__init__(
            SinkHandler(),
            data_size_limit=DEFAULT_MAX_MESSAGE_BYTES,
            hostname="sink.bench",
            enable_SMTPUTF8=True,
            loop=loop,
        )


async def run_sink(ready_file: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkSMTP(loop), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    document = json.dumps({"smtp_port": port, "pid": os.getpid()})
    await asyncio.to_thread(ready_file.write_text, document)
    await asyncio.Event().wait()


# --- Relay without its runners -----------------------------------------------------------


def run_edge(ready_file: Path) -> None:
    """``relay serve``'s edge minus the workers, the embedded org and the sender checks
    (as in the earlier figures: with no rep synced, every message would take the slow
    path that confirms an unknown sender against the store): ingest alone."""
    import dataclasses

    from relay.config import load_config
    from relay.daemon import Daemon, Listening
    from relay.logs import configure_logging

    config = load_config(None)
    config = dataclasses.replace(config, http_port=0, smtp=dataclasses.replace(config.smtp, port=0))
    configure_logging(config.log_level, config.log_format)

    def ready(listening: Listening) -> None:
        document = dataclasses.asdict(listening) | {"pid": os.getpid()}
        ready_file.write_text(json.dumps(document))

    daemon = Daemon(config, runners=[], on_ready=ready)
    loops.run(daemon.run(install_signal_handlers=True))


# --- the client --------------------------------------------------------------------------


async def expect(reader: asyncio.StreamReader, code: bytes) -> None:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            break
    if not line.startswith(code):
        raise RuntimeError(f"expected {code!r}, got {line!r}")


async def session(port: int, messages: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    await expect(reader, b"220")
    writer.write(b"EHLO client.bench\r\n")
    await expect(reader, b"250")
    for raw in messages:
        writer.write(f"MAIL FROM:<{REP}>\r\n".encode())
        await expect(reader, b"250")
        writer.write(f"RCPT TO:<{RCPT}>\r\n".encode())
        await expect(reader, b"250")
        writer.write(b"DATA\r\n")
        await expect(reader, b"354")
        writer.write(raw)
        writer.write(b".\r\n")
        await writer.drain()
        await expect(reader, b"250")
    writer.write(b"QUIT\r\n")
    await expect(reader, b"221")
    writer.close()
    await writer.wait_closed()


def build_message(number: int, size: int) -> bytes:
    head = (
        f"From: Alice Nguyen <{REP}>\r\nTo: Hank Scorpio <{CONTACT}>\r\n"
        f"Subject: benchmark {number}\r\nMessage-ID: <bench-{number}@bench.example>\r\n\r\n"
    ).encode()
    body = LINE * max(1, (size - len(head)) // len(LINE))
    return head + body


def blast(port: int, messages: Sequence[bytes], connections: int) -> float:
    """Send ``messages`` over ``connections`` sessions; return the seconds it took."""
    shares = [list(messages[n::connections]) for n in range(connections)]

    async def send() -> None:
        await asyncio.gather(*(session(port, share) for share in shares if share))

    started = time.perf_counter()
    asyncio.run(send())
    return time.perf_counter() - started


# --- the servers under test --------------------------------------------------------------


def role_of(pid: int, top: int, single: str) -> str:
    """A process's role, from the internal command it runs (relay/cli/serve_children.py)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    if b"_edge" in argv:
        return "edge"
    if b"_worker" in argv:
        return "worker"
    if b"_local-org" in argv:
        return "local org"
    return single if pid == top else "other"


def descendants(pid: int) -> list[int]:
    """``pid`` and its live descendants (from /proc/*/stat's parent field)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process's threads were runnable but waited for a CPU: the second field of
    /proc/PID/task/TID/schedstat (kernel Documentation/scheduler/sched-stats.rst)."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0.0
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def main_thread_cpu(pid: int) -> float:
    """utime + stime of the main thread alone (/proc/PID/task/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/task/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def by_role(
    roles: dict[int, str],
    before: dict[int, tuple[float, float, float]],
    after: dict[int, tuple[float, float, float]],
) -> dict[str, list[float]]:
    """role -> [CPU seconds, CPU-wait seconds, main-thread CPU seconds] between two
    ``Server.sample``s."""
    result: dict[str, list[float]] = {}
    for pid, values in after.items():
        earlier = before.get(pid, (0.0, 0.0, 0.0))
        sums = result.setdefault(roles.get(pid, "other"), [0.0, 0.0, 0.0])
        for index, (value, start) in enumerate(zip(values, earlier, strict=True)):
            sums[index] += value - start
    return result


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (/proc/PID/status) and Pss (/proc/PID/smaps_rollup), in KiB."""
    values: dict[str, int] = {}
    for name in ("status", "smaps_rollup"):
        try:
            text = Path(f"/proc/{pid}/{name}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Pss"):
                values[key] = int(rest.split()[0])
    return values


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    ready: dict[str, object]
    delivers: bool = False
    single: str = "sink"  # the top process's role when it has no internal command
    logged: int = 0  # messages the store counted logged so far
    ingest_seconds: list[float] = field(default_factory=list)
    task_seconds: list[float] = field(default_factory=list)
    cpu: list[dict[str, float]] = field(default_factory=list)  # per round: role -> seconds
    # per round, the SMTP phase alone: role -> [CPU seconds, CPU-wait seconds]
    smtp_phase: list[dict[str, list[float]]] = field(default_factory=list)
    own_window_cpu: float = 0.0

    @property
    def port(self) -> int:
        return int(str(self.ready["smtp_port"]))

    def pids(self) -> list[int]:
        return descendants(self.process.pid)

    def roles(self) -> dict[int, str]:
        return {pid: role_of(pid, self.process.pid, self.single) for pid in self.pids()}

    def cpu_by_pid(self) -> dict[int, float]:
        return {pid: process_cpu_seconds(pid) for pid in self.pids()}

    def sample(self) -> dict[int, tuple[float, float, float]]:
        """pid -> (CPU seconds, seconds its threads waited for a CPU, CPU seconds of its
        main thread: the event loop's, in every Relay process)."""
        return {
            pid: (process_cpu_seconds(pid), runqueue_wait_seconds(pid), main_thread_cpu(pid))
            for pid in self.pids()
        }

    def queue_counts(self) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.ready['http_port']}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        counts = {}
        for line in text.splitlines():
            if line.startswith('relay_queue_messages{state="'):
                state = line.split('"', 2)[1]
                counts[state] = float(line.rsplit(" ", 1)[1])
        return counts

    def wait_until_logged(self, expected: int, timeout: float = 600.0) -> None:
        """Until the store counts ``expected`` messages logged and none pending; any
        other final state means the bench is wrong (a rep not known, a Contact missing)."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.queue_counts()
            others = {
                state: count
                for state, count in counts.items()
                if state not in ("logged", *PENDING_STATES) and count
            }
            if others:
                raise RuntimeError(f"{self.name}: messages not logged: {others}")
            if counts.get("logged", 0) >= expected:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: not all logged in {timeout} s: {counts}")
            time.sleep(POLL_SECONDS)


PROFILER = """\
import atexit, cProfile, os
from pathlib import Path
_argv = Path("/proc/self/cmdline").read_bytes().split(b"\\0")
if b"_edge" in _argv or b"--edge" in _argv:
    _profile = cProfile.Profile()
    _profile.enable()
    atexit.register(lambda: _profile.dump_stats(os.environ["BENCH_PROFILE_OUT"]))
"""


def profiled(env: dict[str, str], directory: Path | None, name: str) -> dict[str, str]:
    """``env`` with a sitecustomize that runs cProfile in the edge process (its event-loop
    thread) and writes DIRECTORY/NAME.prof when it exits; unchanged without a directory."""
    if directory is None:
        return env
    directory.mkdir(parents=True, exist_ok=True)
    hooks = directory / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(PROFILER)
    path = os.pathsep.join(filter(None, [str(hooks), env.get("PYTHONPATH", "")]))
    return env | {"PYTHONPATH": path, "BENCH_PROFILE_OUT": str(directory / f"{name}.prof")}


def start(command: list[str], env: dict[str, str], ready_file: Path) -> Server:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not ready_file.exists() or not ready_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{command} did not start")
        time.sleep(0.05)
    time.sleep(0.1)  # the file is written in one call, but not atomically
    return Server("", process, json.loads(ready_file.read_text()))


@dataclass(frozen=True)
class Mode:
    kind: str  # serve or edge
    workers: int | None
    loop: str | None
    nice_org: bool = False
    idle_delivery: bool = False
    no_yield: bool = False
    env: tuple[tuple[str, str], ...] = ()  # NAME=VALUE options: this mode's own variables


def parse_mode(spec: str, workers: int | None) -> Mode:
    """``serve[:wN][:uvloop|asyncio][:nice-org][:idle-delivery][:no-yield]`` or
    ``edge[:loop]``; any mode may add ``:NAME=VALUE`` options, variables set for its
    processes only (``serve:RELAY_WORKERS=2``), to compare settings side by side."""
    kind, *options = spec.split(":")
    if kind not in ("serve", "edge"):
        raise SystemExit(f"unknown mode {spec!r}: serve[:wN][:uvloop|asyncio] or edge")
    loop, nice_org, idle_delivery, no_yield = None, False, False, False
    env: list[tuple[str, str]] = []
    for option in options:
        if "=" in option:
            name, _, value = option.partition("=")
            env.append((name, value))
        elif option in ("uvloop", "asyncio"):
            loop = option
        elif kind == "serve" and option.startswith("w") and option[1:].isdigit():
            workers = int(option[1:])
        elif kind == "serve" and option == "nice-org":
            nice_org = True
        elif kind == "serve" and option == "idle-delivery":
            idle_delivery = True
        elif kind == "serve" and option == "no-yield":
            no_yield = True
        else:
            raise SystemExit(f"unknown option {option!r} in mode {spec!r}")
    return Mode(kind, workers, loop, nice_org, idle_delivery, no_yield, tuple(env))


def renice(pid: int, value: int) -> None:
    """Every thread of ``pid`` to nice ``value`` (nice is per thread on Linux, sched(7))."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), value)


def start_relay(
    spec: str, home: Path, env: dict[str, str], workers: int | None, profile: Path | None
) -> Server:
    mode = parse_mode(spec, workers)
    kind, workers, loop = mode.kind, mode.workers, mode.loop
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec)  # a directory name
    relay_env = profiled(env, profile, slug) | {
        "RELAY_HOME": str(home / slug),
        "RELAY_DOMAIN": DOMAIN,
        "RELAY_LOG_FORMAT": "json",
        "RELAY_SMTP_MIN_FREE_BYTES": "0",
        **TRUST,
        **({"RELAY_EVENT_LOOP": loop} if loop else {}),
        **({"RELAY_PIPELINE_YIELD_MIN_RATE": "0"} if mode.no_yield else {}),
        **dict(mode.env),
    }
    ready = home / f"{slug}.json"
    if kind == "edge":
        command = [sys.executable, __file__, "--edge", str(ready)]
    else:
        # The embedded org's data: the sample org (its reps and Contacts), loaded before
        # the start as `relay org seed --sample` does.
        seed = [sys.executable, "-m", "relay", "org", "seed", "--sample"]
        subprocess.run(seed, env=relay_env, check=True, capture_output=True)
        command = [
            *(sys.executable, "-m", "relay", "serve", "--smtp-port", "0", "--http-port", "0"),
            *("--ready-file", str(ready)),
            *(["--workers", str(workers)] if workers is not None else []),
        ]
    server = start(command, relay_env, ready)
    server.name = spec
    server.delivers = kind == "serve"
    server.single = "edge" if kind == "edge" else "one process" if workers == 0 else "supervisor"
    if mode.nice_org:
        # An experiment: the embedded org at the workers' priority (it serves their
        # Salesforce calls), so that it too yields the CPU to the edge during a burst.
        for pid, role in server.roles().items():
            if role == "local org":
                renice(pid, 10)
    if mode.idle_delivery:
        # An experiment: the workers and the org under SCHED_IDLE (sched(7)): they run
        # only on a CPU nothing else wants, and never preempt the edge when they wake.
        for pid, role in server.roles().items():
            if role in ("worker", "local org"):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))
    return server


def warm_up(server: Server, messages: Sequence[bytes], connections: int) -> None:
    """First messages, until accepted: a serve process knows its reps once the first rep
    sync is done (a few seconds after start); then until they are logged."""
    deadline = time.monotonic() + 120
    while True:
        try:
            blast(server.port, messages, connections)
            break
        except (RuntimeError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
    if server.delivers:
        server.logged += len(messages)
        server.wait_until_logged(server.logged)


def measure(servers: list[Server], args: argparse.Namespace, per_round: int) -> float:
    """Rounds, each server in turn (rotating), returns the wall time of the rounds."""
    warm = [build_message(n, args.size) for n in range(min(200, per_round))]
    for server in servers:
        warm_up(server, warm, args.connections)
    totals_before = {s.name: sum(s.cpu_by_pid().values()) for s in servers}
    started = time.perf_counter()
    for number in range(args.rounds):
        messages = [build_message((number + 1) * 10**6 + n, args.size) for n in range(per_round)]
        shift = number % len(servers)
        for server in servers[shift:] + servers[:shift]:
            roles = server.roles()
            before = server.sample()
            begun = time.perf_counter()
            server.ingest_seconds.append(blast(server.port, messages, args.connections))
            acked = server.sample()
            if server.delivers:
                server.logged += per_round
                server.wait_until_logged(server.logged)
                server.task_seconds.append(time.perf_counter() - begun)
            after = server.sample()
            server.smtp_phase.append(by_role(roles, before, acked))
            cpu = {role: sums[0] for role, sums in by_role(roles, before, after).items()}
            server.cpu.append(cpu)
            server.own_window_cpu += sum(cpu.values())
    wall = time.perf_counter() - started
    for server in servers:
        total = sum(server.cpu_by_pid().values()) - totals_before[server.name]
        server.own_window_cpu = total - server.own_window_cpu  # now: CPU while idle
    return wall


# --- the report --------------------------------------------------------------------------


def spread(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    if not values:
        return "-"
    median = fmt.format(statistics.median(values))
    return f"{median} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def report(
    servers: list[Server], args: argparse.Namespace, per_round: int, wall: float
) -> dict[str, object]:
    sink = servers[0]
    sink_rates = [per_round / s for s in sink.ingest_seconds]
    print(
        f"ingest: {args.rounds} rounds x {per_round} messages of {args.size} B over "
        f"{args.connections} connections; median (min-max) over the rounds"
    )
    print(f"  {'server':22} {'SMTP msg/s':>18} {'relay/sink':>18} {'to Task emails/s':>20}")
    result: dict[str, object] = {"per_round": per_round, "rounds": args.rounds, "servers": {}}
    for server in servers:
        rates = [per_round / s for s in server.ingest_seconds]
        ratios = [r / s for r, s in zip(rates, sink_rates, strict=True)]
        to_task = [per_round / s for s in server.task_seconds]
        ratio = "" if server is sink else spread(ratios, "{:.2f}")
        print(f"  {server.name:22} {spread(rates):>18} {ratio:>18} {spread(to_task):>20}")
        result["servers"][server.name] = {  # type: ignore[index]
            "smtp_rates": rates,
            "ratios": ratios,
            "task_rates": to_task,
            "cpu_by_round": server.cpu,
            "idle_cpu_seconds": server.own_window_cpu,
        }
    print("CPU per email (ms), over each round (sending and delivery), by process role:")
    for server in servers:
        roles = sorted({role for by_role in server.cpu for role in by_role})
        parts = []
        for role in roles:
            values = [by_role.get(role, 0.0) / per_round * 1000 for by_role in server.cpu]
            parts.append(f"{role} {spread(values, '{:.2f}')}")
        totals = [sum(by_role.values()) / per_round * 1000 for by_role in server.cpu]
        idle = server.own_window_cpu / wall * 100
        print(
            f"  {server.name:22} total {spread(totals, '{:.2f}')}: {'; '.join(parts)}"
            f"   [idle meanwhile: {idle:.1f}% of a CPU]"
        )
    print("SMTP phase alone (first MAIL to last 250), by role: CPU ms per email, and the share")
    print("of the phase it ran / waited for a CPU (runnable, not running; summed over threads):")
    for server in servers:
        roles = sorted({role for phase in server.smtp_phase for role in phase})
        parts = []
        for role in roles:
            cpu = [p.get(role, [0.0, 0.0])[0] / per_round * 1000 for p in server.smtp_phase]
            ran = [
                p.get(role, [0.0, 0.0])[0] / s * 100
                for p, s in zip(server.smtp_phase, server.ingest_seconds, strict=True)
            ]
            waited = [
                p.get(role, [0.0, 0.0])[1] / s * 100
                for p, s in zip(server.smtp_phase, server.ingest_seconds, strict=True)
            ]
            main = [p.get(role, [0.0, 0.0, 0.0])[2] / per_round * 1000 for p in server.smtp_phase]
            parts.append(
                f"{role} {statistics.median(cpu):.2f} ms (main thread "
                f"{statistics.median(main):.2f}), ran {statistics.median(ran):.0f}% "
                f"waited {statistics.median(waited):.0f}%"
            )
        print(f"  {server.name:22} {'; '.join(parts)}")
        result["servers"][server.name]["smtp_phase_by_round"] = server.smtp_phase  # type: ignore[index]
        result["servers"][server.name]["smtp_seconds"] = server.ingest_seconds  # type: ignore[index]
    print("memory after the rounds (MiB): RSS / peak RSS / PSS by process")
    for server in servers:
        rows = []
        sums = {"VmRSS": 0, "VmHWM": 0, "Pss": 0}
        for pid, role in sorted(server.roles().items(), key=lambda item: item[1]):
            memory = memory_kib(pid)
            for key in sums:
                sums[key] += memory.get(key, 0)
            rows.append(
                f"{role} {memory.get('VmRSS', 0) / 1024:.0f}/{memory.get('VmHWM', 0) / 1024:.0f}"
                f"/{memory.get('Pss', 0) / 1024:.0f}"
            )
        total = "/".join(f"{sums[key] / 1024:.0f}" for key in ("VmRSS", "VmHWM", "Pss"))
        print(f"  {server.name:22} sum {total}: {'; '.join(rows)}")
        result["servers"][server.name]["memory_kib"] = {  # type: ignore[index]
            f"{role}:{pid}": memory_kib(pid) for pid, role in server.roles().items()
        }
    print("  targets: serve/sink >= 0.8 (stretch >= 1.0 on uvloop); serve's emails/s to Task")
    print("  not below serve:w0's")
    return result


def big_messages(server: Server, clients: int, megabytes: int) -> None:
    edge = next(pid for pid, role in server.roles().items() if role == "edge")
    before = memory_kib(edge)["VmHWM"]
    messages = [build_message(99 * 10**6 + n, megabytes * 1024 * 1024) for n in range(clients)]
    seconds = blast(server.port, messages, clients)
    after = memory_kib(edge)["VmHWM"]
    print(
        f"peak RSS of {server.name}'s edge: {before / 1024:.0f} MiB after the rounds, "
        f"{after / 1024:.0f} MiB after {clients} clients sent {megabytes} MB each at once "
        f"({seconds:.1f} s)"
    )


def stop(servers: Sequence[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        try:
            server.process.wait(60)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000, help="over all rounds")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument(
        "--relay",
        default="serve,serve:w0",
        help="Relay modes beside the sink: serve[:wN][:uvloop|asyncio], edge, both",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="serve's --workers (default: its own)"
    )
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    parser.add_argument(
        "--profile-edge",
        type=Path,
        metavar="DIR",
        help="run cProfile in each mode's edge (slows it: for where, not how fast); "
        "writes DIR/MODE.prof",
    )
    parser.add_argument("--big-clients", type=int, default=0)
    parser.add_argument("--big-mb", type=int, default=20)
    parser.add_argument("--sink", type=Path, help=argparse.SUPPRESS)  # internal: run the sink
    parser.add_argument("--edge", type=Path, help=argparse.SUPPRESS)  # internal: run the edge
    args = parser.parse_args()
    if args.sink:
        asyncio.run(run_sink(args.sink))
        return
    if args.edge:
        run_edge(args.edge)
        return

    specs = ["edge", "serve"] if args.relay == "both" else args.relay.split(",")
    for spec in specs:
        parse_mode(spec, args.workers)
    per_round = args.messages // args.rounds
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as temp:
        home = Path(temp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        try:
            sink_ready = home / "sink.json"
            sink = start([sys.executable, __file__, "--sink", str(sink_ready)], env, sink_ready)
            sink.name = "sink"
            servers.append(sink)
            for spec in specs:
                servers.append(start_relay(spec, home, env, args.workers, args.profile_edge))
            wall = measure(servers, args, per_round)
            result = report(servers, args, per_round, wall)
            if args.json:
                args.json.write_text(json.dumps(result, indent=1))
            if args.big_clients and len(servers) > 1:
                big_messages(servers[1], args.big_clients, args.big_mb)
        finally:
            stop(servers)


if __name__ == "__main__":
    main()
