"""Run qdrant-client's own test suite against ``shoal serve`` and count what passes.

qdrant-client's tests (not shipped on PyPI) talk to a Qdrant server at ``localhost:6333``
(REST) and ``:6334`` (gRPC). This runner copies the ``tests/`` folder of a qdrant-client
checkout you provide into a scratch folder (so the checkout's own ``qdrant_client`` source
cannot shadow the installed client), then for every test file:

1. starts a fresh ``shoal serve`` on 127.0.0.1:6333 with an empty storage folder;
2. runs that file with pytest, the installed ``qdrant-client`` and a per-test timeout
   (pytest-timeout); tests a REST-only single-node server cannot serve are deselected, each
   with a reason tag (``tools/qdrant_suite_plugin.py``): ``grpc`` (parametrised with
   ``prefer_grpc=True`` or opening a gRPC client), ``models`` (fastembed / cloud inference
   model downloads), ``cluster`` (shard keys and the cluster API of distributed mode);
3. stops the server (SIGTERM, then SIGKILL after 35 s) whatever happened.

It prints passed / failed / errors / skipped / deselected overall and per file, the tests
that timed out, and optionally writes all of it, test by test, as JSON.

The tests hard-code port 6333, so by default (``--isolate auto``) the run happens in a
private network namespace (``unshare --net --map-root-user``) where nothing else can hold
that port and nothing but loopback is reachable; where namespaces are not available it runs
on the host's loopback and stops at once if 6333 is taken.

Usage (from a Shoal checkout, in the venv of ``pip install -e ".[test]"``)::

    pip install pytest-timeout pytest-mock        # qdrant-client's test tools
    git clone https://github.com/qdrant/qdrant-client ../qdrant-client
    python tools/qdrant_suite.py ../qdrant-client --ref v1.18.0 --json suite.json

``--ref`` reads ``tests/`` from that git ref (``git archive``; a bare clone works too);
without it the checkout's working tree is used. ``--files`` picks some files (globs
relative to ``tests/``), ``--timeout`` sets the per-test limit, ``--logs DIR`` keeps each
file's pytest output and server log, ``--grpc parametrised`` deselects only the
``prefer_grpc=True`` parametrisations (the tests whose body or fixtures open a gRPC client
then run, and fail on it). A test that hangs past its timeout in a way pytest-timeout
cannot interrupt is killed with its pytest process, counted as failed by timeout, and the
rest of its file runs again. The exit status is 0 when every selected test passed or was
skipped, 1 otherwise, 2 when the run could not start. docs/compatibility.md records the
latest figure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fnmatch
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
HOST = "127.0.0.1"
NETNS_ENV = "QDRANT_SUITE_IN_NETNS"
REPORT_ENV = "QDRANT_SUITE_REPORT"  # read by tools/qdrant_suite_plugin.py
GRPC_RULE_ENV = "QDRANT_SUITE_GRPC_RULE"  # likewise
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "not run")
# qdrant-client's pytest settings (its pyproject.toml), which the copied tests/ lack.
PYTEST_INI = """[pytest]
markers =
    fastembed: marks tests that require the fastembed package
    no_fastembed: marks tests that do not require the fastembed package
asyncio_default_fixture_loop_scope = function
"""
STALL_GRACE = 30.0  # seconds past the per-test timeout before a silent pytest is killed
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


@dataclass
class FileResult:
    """What one test file did."""

    file: str
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    deselected: dict[str, str] = field(default_factory=dict)
    collect_errors: dict[str, str] = field(default_factory=dict)
    selected: set[str] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    note: str = ""

    def counts(self) -> Counter[str]:
        """Outcomes counted as pytest counts them (a collection error is one error)."""
        counts = Counter(t["outcome"] for t in self.tests.values())
        counts["error"] += len(self.collect_errors)
        counts["deselected"] = len(self.deselected)
        return counts

    def timed_out(self) -> list[str]:
        """Tests stopped by the per-test timeout (or killed for hanging past it)."""
        return [nodeid for nodeid, t in self.tests.items() if t.get("timeout")]


# ------------------------------------------------------------------ environment


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description="Run qdrant-client's test suite against shoal serve (REST only).",
    )
    parser.add_argument("checkout", type=Path, help="a qdrant-client git checkout")
    parser.add_argument("--ref", help="read tests/ from this git ref (e.g. v1.18.0)")
    parser.add_argument("--files", nargs="*", default=[], help="globs under tests/")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per test")
    parser.add_argument(
        "--file-timeout", type=float, default=900.0, help="seconds per file before it is killed"
    )
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--logs", type=Path, help="keep pytest output and server logs here")
    parser.add_argument("--port", type=int, default=6333, help="the port the tests expect")
    parser.add_argument(
        "--isolate",
        choices=("auto", "netns", "none"),
        default="auto",
        help="run in a private network namespace (netns), on the host's loopback (none), "
        "or netns where possible (auto, the default)",
    )
    parser.add_argument(
        "--grpc",
        choices=("opens", "parametrised"),
        default="opens",
        help="deselect tests that open a gRPC client anywhere (default), or only the "
        "prefer_grpc=True parametrisations",
    )
    parser.add_argument(
        "--qdrant-version",
        help="QDRANT_VERSION for the tests (unset: they test the newest server features)",
    )
    return parser.parse_args(argv)


def fail(message: str) -> None:
    """Stop the runner with exit status 2."""
    print(f"qdrant_suite: {message}", file=sys.stderr)
    raise SystemExit(2)


def versions() -> dict[str, str]:
    """Versions of what the run depends on; stops if a test tool is missing."""
    found: dict[str, str] = {}
    for dist in ("qdrant-client", "pytest", "pytest-timeout", "pytest-mock", "shoal"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            fail(
                f"{dist} is not installed here; pip install -e '.[test]' pytest-timeout pytest-mock"
            )
    found["python"] = sys.version.split()[0]
    found["shoal_commit"] = _git(REPO, "rev-parse", "HEAD") or "unknown"
    return found


def _git(where: Path, *args: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(where), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def copy_tests(checkout: Path, ref: str | None, dest: Path) -> dict[str, str]:
    """Put qdrant-client's ``tests/`` into ``dest``; returns where it came from.

    Raises:
        SystemExit: no tests/ in the checkout, or the ref is unknown.
    """
    if ref is None:
        if not (checkout / "tests").is_dir():
            fail(f"{checkout} has no tests/ folder; pass a qdrant-client checkout")
        shutil.copytree(checkout / "tests", dest / "tests")
        describe = _git(checkout, "describe", "--tags", "--always", "--dirty")
        commit = _git(checkout, "rev-parse", "HEAD")
    else:
        commit = _git(checkout, "rev-parse", f"{ref}^{{commit}}")
        if commit is None:
            fail(f"{ref!r} is not a commit of the git repository {checkout}")
        archive = dest / "tests.tar"
        with archive.open("wb") as out:
            subprocess.run(
                ["git", "-C", str(checkout), "archive", ref, "tests"], stdout=out, check=True
            )
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
        archive.unlink()
        describe = _git(checkout, "describe", "--tags", "--always", ref)
    (dest / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    return {
        "checkout": str(checkout),
        "ref": ref or "",
        "describe": describe or "",
        "commit": commit or "",
    }


def test_files(root: Path, globs: list[str]) -> list[str]:
    """The test modules under ``root/tests``, relative to ``root``, sorted."""
    found = sorted(p.relative_to(root).as_posix() for p in (root / "tests").rglob("test_*.py"))
    if globs:
        found = [f for f in found if any(fnmatch.fnmatch(f, "tests/" + g) for g in globs)]
    if not found:
        fail("no test files matched")
    return found


# ------------------------------------------------------------------- isolation


def enter_isolation(mode: str, argv: list[str]) -> str:
    """Re-run this script in a private network namespace when asked and possible.

    Returns:
        ``"netns"`` when already inside one, ``"none"`` when running on the host.
    """
    if os.environ.get(NETNS_ENV):
        _loopback_up()
        return "netns"
    if mode == "none":
        return "none"
    unshare = shutil.which("unshare")
    cmd = [unshare or "unshare", "--net", "--map-root-user"]
    usable = unshare is not None and (
        subprocess.run([*cmd, "true"], capture_output=True, check=False).returncode == 0
    )
    if not usable:
        if mode == "netns":
            fail("cannot create a network namespace (unshare --net --map-root-user failed)")
        return "none"
    sys.stdout.flush()
    env = {**os.environ, NETNS_ENV: "1"}
    os.execvpe(cmd[0], [*cmd, sys.executable, str(Path(__file__).resolve()), *argv], env)
    raise AssertionError("unreachable")  # execvpe does not return


def _loopback_up() -> None:
    """Bring ``lo`` up in a new network namespace (it starts down), without iproute2."""
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) != 0


# ---------------------------------------------------------------------- server


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if the runner dies, so no server outlives a killed run.
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(
    cmd: list[str], out: IO[bytes], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A child in its own process group (so it and its children can be killed together),
    output to ``out``, no stdin, sent SIGTERM if the runner dies."""
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


@contextlib.contextmanager
def shoal_server(storage: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``shoal serve`` on 127.0.0.1:``port``, ready when entered, stopped when left.

    Raises:
        RuntimeError: it exited or was not ready within 60 s.
    """
    cmd = [sys.executable, "-m", "shoal", "serve", "--path", str(storage)]
    cmd += ["--host", HOST, "--port", str(port), "--log-level", "info", "--access-log"]
    with log.open("ab") as out:
        proc = _spawn(cmd, out)
        try:
            _wait_ready(proc, port)
            yield proc
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"shoal serve exited with status {proc.returncode}")
        url = f"http://{HOST}:{port}/readyz"
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=2) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("shoal serve was not ready within 60 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=35)  # the server's graceful shutdown allows 30 s
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_statuses(log: Path) -> Counter[str]:
    """Responses the server sent, by status code, from its access log."""
    statuses: Counter[str] = Counter()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = ACCESS_LINE.search(line)
        if match and match["path"] != "/readyz":  # the runner's own readiness probe
            statuses[match["status"]] += 1
    return statuses


# ----------------------------------------------------------------------- files


def run_file(rel: str, root: Path, args: argparse.Namespace, scratch: Path) -> FileResult:
    """Run one test file against a fresh server and read what its plugin recorded.

    A test that hangs past the per-test timeout (pytest-timeout's signal cannot interrupt
    every wait, e.g. a worker thread that never ends) stalls the file: the runner kills
    pytest, counts that test as failed by timeout, and runs the rest of the file again
    against another fresh server, until the file is done or ``--file-timeout`` is spent.
    """
    result = FileResult(rel)
    slug = rel.removeprefix("tests/").replace("/", "__").removesuffix(".py")
    report, server_log, pytest_log = (
        scratch / f"{slug}.{ext}" for ext in ("jsonl", "server.log", "pytest.log")
    )
    start = time.monotonic()
    deadline = start + args.file_timeout
    while True:
        storage = Path(tempfile.mkdtemp(prefix="storage-", dir=scratch))
        try:
            with shoal_server(storage, args.port, server_log):
                ended = _pytest(rel, root, args, report, pytest_log, list(result.tests), deadline)
        except RuntimeError as exc:
            result.note = str(exc)
            ended = "server"
        finally:
            shutil.rmtree(storage, ignore_errors=True)
        stuck = _read_report(result, report)
        if stuck is not None:
            result.tests[stuck] = {
                "outcome": "failed",
                "message": f"hung past the {args.timeout:.0f} s per-test timeout: killed",
                "timeout": True,
                "duration": 0.0,
            }
        if ended != "stalled" or stuck is None:
            break
    if ended == "deadline":
        result.note = f"stopped by --file-timeout {args.file_timeout:.0f} s"
    for nodeid in result.selected - result.tests.keys():
        result.tests[nodeid] = {"outcome": "not run", "message": result.note, "timeout": False}
    result.seconds = round(time.monotonic() - start, 1)
    if server_log.exists():
        result.statuses = server_statuses(server_log)
    if not report.exists() and not result.note:
        result.note = "pytest wrote no report (see its log)"
    return result


def _pytest(
    rel: str,
    root: Path,
    args: argparse.Namespace,
    report: Path,
    log: Path,
    done: list[str],
    deadline: float,
) -> str:
    """Run pytest on one file, leaving out the tests in ``done``.

    Returns:
        ``"done"`` when pytest exited, ``"stalled"`` when it reported nothing for longer
        than the per-test timeout plus a grace period, ``"deadline"`` at ``deadline``; in the
        last two cases its process group was killed.
    """
    env = {k: v for k, v in os.environ.items() if k != "QDRANT_VERSION"}
    if args.qdrant_version:
        env["QDRANT_VERSION"] = args.qdrant_version
    env[REPORT_ENV] = str(report)
    env[GRPC_RULE_ENV] = args.grpc
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TOOLS), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "pytest", rel, "-c", "pytest.ini", "--rootdir", "."]
    cmd += ["-p", "no:cacheprovider", "-p", "qdrant_suite_plugin", "-q", "-rfE"]
    cmd += ["--timeout", str(args.timeout)]
    cmd += [f"--deselect={nodeid}" for nodeid in done]
    with log.open("ab") as out:
        proc = _spawn(cmd, out, cwd=root, env=env)
        try:
            return _watch(proc, report, args.timeout + STALL_GRACE, deadline)
        finally:
            if proc.poll() is None:
                # Its own process group: the test's multiprocessing workers go with it.
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _watch(proc: subprocess.Popen[bytes], report: Path, stall: float, deadline: float) -> str:
    """Wait for pytest, watching its report grow (see ``_pytest``)."""
    size, last = -1, time.monotonic()
    while True:
        try:
            proc.wait(timeout=1)
            return "done"
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        current = report.stat().st_size if report.exists() else 0
        if current != size:
            size, last = current, now
        if now >= deadline:
            return "deadline"
        if now - last > stall:
            return "stalled"


def _read_report(result: FileResult, report: Path) -> str | None:
    """Fold the plugin's events into ``result``; returns a test started but never ended."""
    started: list[str] = []
    if not report.exists():
        return None
    for line in report.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        kind, nodeid = event.pop("event"), event.pop("nodeid")
        if kind == "deselected":
            result.deselected[nodeid] = event["reason"]
        elif kind == "collect_error":
            result.collect_errors[nodeid] = event["message"]
        elif kind == "selected":
            result.selected.add(nodeid)
        elif kind == "start":
            started.append(nodeid)
        else:
            result.tests[nodeid] = event
    unfinished = [n for n in started if n not in result.tests]
    return unfinished[-1] if unfinished else None


# --------------------------------------------------------------------- summary


def summarize(results: list[FileResult], meta: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable summary of a run."""
    from qdrant_suite_plugin import REASONS

    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    files = []
    for r in results:
        counts = r.counts()
        totals.update(counts)
        reasons.update(r.deselected.values())
        files.append(
            {
                "file": r.file,
                "counts": dict(counts),
                "seconds": r.seconds,
                "note": r.note,
                "timed_out": r.timed_out(),
                "collect_errors": r.collect_errors,
                "deselected": r.deselected,
                "server_responses": dict(r.statuses),
                "tests": r.tests,
            }
        )
    totals["timed_out"] = sum(len(r.timed_out()) for r in results)
    selected = sum(totals[o] for o in OUTCOMES)
    return {
        **meta,
        "figure": f"{totals['passed']} of {selected} selected tests pass",
        "totals": {
            "selected": selected,
            **{k: totals[k] for k in (*OUTCOMES, "deselected", "timed_out")},
        },
        "deselected_by_reason": dict(reasons),
        "reasons": REASONS,
        "files": files,
    }


def print_summary(summary: dict[str, Any]) -> None:
    """The human-readable summary: per file, then overall."""
    cols = ("passed", "failed", "error", "skipped", "deselected")
    print(f"\n{'file':58} " + " ".join(f"{c[:6]:>6}" for c in cols) + "   2xx   4xx   5xx      s")
    for f in summary["files"]:
        counts, statuses = f["counts"], f["server_responses"]
        by_class = Counter(s[0] for s in statuses for _ in range(statuses[s]))
        cells = " ".join(f"{counts.get(c, 0):>6}" for c in cols)
        http = " ".join(f"{by_class.get(k, 0):>5}" for k in "245")
        print(f"{f['file'].removeprefix('tests/'):58} {cells} {http} {f['seconds']:>6.0f}")
        if f["note"]:
            print(f"    note: {f['note']}")
    t = summary["totals"]
    print(
        f"\n{summary['figure']}  (qdrant-client {summary['versions']['qdrant-client']}, "
        f"tests {summary['tests']['describe'] or summary['tests']['commit']}, "
        f"{summary['wall_seconds']:.0f} s)"
    )
    print(", ".join(f"{t[k]} {k}" for k in (*OUTCOMES, "deselected") if t[k] or k in cols))
    for reason, n in sorted(summary["deselected_by_reason"].items()):
        print(f"  deselected {n:>4} {reason}: {summary['reasons'][reason]}")
    timed_out = [n for f in summary["files"] for n in f["timed_out"]]
    print(f"timed out: {len(timed_out)}" + "".join(f"\n  {n}" for n in timed_out))


def main(argv: list[str] | None = None) -> int:
    """Run the suite; returns 0 when every selected test passed, 1 otherwise."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    found = versions()
    isolation = enter_isolation(args.isolate, argv)
    if not port_free(args.port):
        fail(
            f"{HOST}:{args.port} is in use; qdrant-client's tests expect the server there. "
            "Stop what holds it, or run with --isolate netns"
        )
    began = time.monotonic()
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="qdrant-suite-") as tmp:
        root = Path(tmp)
        source = copy_tests(args.checkout.resolve(), args.ref, root)
        results = []
        for rel in test_files(root, args.files):
            results.append(run_file(rel, root, args, root))
            counts = ", ".join(f"{n} {k}" for k, n in results[-1].counts().items() if n)
            print(f"{rel}: {counts or 'no tests'}", flush=True)
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for log in root.glob("*.log"):
                shutil.copy2(log, args.logs / log.name)
    meta = {
        "grpc_rule": args.grpc,
        "date": started_at,
        "isolation": isolation,
        "per_test_timeout": args.timeout,
        "versions": found,
        "tests": source,
        "wall_seconds": round(time.monotonic() - began, 1),
    }
    summary = summarize(results, meta)
    print_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    t = summary["totals"]
    return 0 if t["passed"] + t["skipped"] == t["selected"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(TOOLS))
    raise SystemExit(main())
