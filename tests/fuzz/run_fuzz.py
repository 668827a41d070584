#!/usr/bin/env python
"""Fuzz edgepose: Estimator calls / estimate(), detector boxes, constructor arguments, model
metadata, corrupt model files and the codecs, with random inputs (tests/_fuzz_cases.py).

    python tests/fuzz/run_fuzz.py --cases 10000 [--seed S] [--timeout 30] [--families call,codec]
    python tests/fuzz/run_fuzz.py --seed S --replay 1234      # one case in-process, with traceback

Each case must end with a valid result or a documented edgepose exception (edgepose.errors)
with a message. Cases run in a worker process, which stops a case after ``--cpu-limit`` CPU
seconds (a busy loop); the parent gives each case ``--timeout`` wall seconds (a deadlock or
a hang inside a runtime), so a hang or a crash (segfault, abort, killed for memory) is
recorded against its case and a fresh worker carries on with the next one. Case ``i`` of seed ``S`` is the same on
every run, whatever ran before it (replay it with ``--replay i``).

Prints the count of each outcome (valid results and each exception class), per family and
in total, and exits 1 on any crash, hang, undocumented exception or invalid result.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import resource
import sys
import time
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
#: outcomes that are bugs (of the library, or HARNESS_ERROR of the fuzzer)
BAD = ("FAIL", "HANG", "CRASH", "HARNESS_ERROR")
sys.path.insert(0, str(TESTS))


def _worker(conn, seed: int, log_path: str, cpu_limit_s: float) -> None:  # noqa: ANN001
    """Run the case indices received on ``conn``; send back (index, family, status, call outcomes, detail)."""
    import faulthandler

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    os.dup2(log.fileno(), 1)  # runtime chatter (ONNX Runtime prints "EP Error" notes to stdout) ...
    os.dup2(log.fileno(), 2)  # ... and fatal-error tracebacks go to the log
    faulthandler.enable(log)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from _fuzz_cases import CaseTimeout, FuzzContext, FuzzFailure, case_chooser, family_of, run_case

    ctx = FuzzContext()
    try:
        conn.send(("ready", None, None, None, None))
        while True:
            index = conn.recv()
            if index is None:
                break
            family = family_of(seed, index)
            print(f"case {index} [{family}]", file=log)
            outcomes: list[str] = []
            try:
                status, outcomes, detail = "ok", run_case(ctx, family, case_chooser(seed, index), cpu_limit_s), ""
            except FuzzFailure as exc:
                status, detail = "FAIL", f"{exc}\n{traceback.format_exc(limit=-6)}"
            except CaseTimeout:
                status, detail = "HANG", f"over {cpu_limit_s} CPU s\n{traceback.format_exc(limit=-6)}"
            except Exception:  # noqa: BLE001 - a bug of the fuzzer itself: reported, never hidden
                status, detail = "HARNESS_ERROR", f"fuzzer bug\n{traceback.format_exc()}"
            conn.send((index, family, status, outcomes, detail))
    finally:
        ctx.close()


class Pool:
    """One worker process at a time, restarted after a crash or a hang."""

    def __init__(self, seed: int, log_path: Path, timeout: float, cpu_limit: float) -> None:
        self.seed, self.log_path, self.timeout, self.cpu_limit = seed, log_path, timeout, cpu_limit
        self.mp = mp.get_context("spawn")
        self.proc = None
        self.starts = 0

    def _start(self) -> None:
        self.conn, child = self.mp.Pipe()
        self.proc = self.mp.Process(target=_worker, args=(child, self.seed, str(self.log_path), self.cpu_limit),
                                    daemon=True)
        self.proc.start()
        self.starts += 1
        if not self.conn.poll(300) or self.conn.recv()[0] != "ready":
            raise SystemExit(f"the fuzz worker did not start; see {self.log_path}")

    def _stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join()
            self.proc = None

    def run(self, index: int) -> tuple[str, str, list[str], str]:
        """(family, status, call outcomes, detail) of case ``index``; status "ok" or one of BAD."""
        from _fuzz_cases import family_of

        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send(index)
        try:
            if self.conn.poll(self.timeout):
                _, family, status, outcomes, detail = self.conn.recv()
                return family, status, outcomes, detail
            self._stop()
            return family_of(self.seed, index), "HANG", [], f"no answer within {self.timeout} s (worker killed)"
        except (EOFError, ConnectionError, OSError):
            self.proc.join(5)
            code = self.proc.exitcode
            self.proc = None
            why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            return family_of(self.seed, index), "CRASH", [], f"worker died ({why}); log tail:\n{_tail(self.log_path)}"

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(30)
            except OSError:
                pass
        self._stop()


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _first_line(detail: str, limit: int = 240) -> str:
    line = detail.strip().splitlines()[0] if detail.strip() else ""
    return line if len(line) <= limit else line[:limit] + "..."


def replay(seed: int, index: int) -> int:
    from _fuzz_cases import FuzzContext, case_chooser, family_of, run_case

    family = family_of(seed, index)
    ctx = FuzzContext()
    try:
        print(f"case {index} [{family}]: calls ended with {run_case(ctx, family, case_chooser(seed, index))}")
    finally:
        ctx.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    from _fuzz_cases import FAMILIES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1000, help="number of cases (default 1000)")
    ap.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    ap.add_argument("--start", type=int, default=0, help="first case index (default 0)")
    ap.add_argument("--timeout", type=float, default=300.0, help="wall seconds per case before the worker is "
                    "killed and the case counts as a hang (default 300: the machine may be busy)")
    ap.add_argument("--cpu-limit", type=float, default=20.0, help="CPU seconds per case (default 20)")
    ap.add_argument("--families", default="", help=f"comma-separated subset of {','.join(FAMILIES)}")
    ap.add_argument("--replay", type=int, default=None, help="run case N in-process and show its traceback")
    ap.add_argument("--log", type=Path, default=None, help="worker log (default: a temp file, kept on failures)")
    ap.add_argument("--max-report", type=int, default=50, help="failures listed (default 50)")
    ap.add_argument("--verbose", action="store_true", help="print each listed failure's traceback")
    args = ap.parse_args(argv)
    if args.replay is not None:
        return replay(args.seed, args.replay)
    from _fuzz_cases import family_of

    wanted = set(args.families.split(",")) if args.families else set(FAMILIES)
    if not wanted <= set(FAMILIES):
        ap.error(f"unknown families {sorted(wanted - set(FAMILIES))}")
    indices = [i for i in range(args.start, args.start + args.cases * (1 if wanted == set(FAMILIES) else 50))
               if family_of(args.seed, i) in wanted][: args.cases]
    log_path = args.log or Path(os.environ.get("TMPDIR", "/tmp")) / f"edgepose-fuzz-{os.getpid()}.log"
    log_path.write_text("")
    pool = Pool(args.seed, log_path, args.timeout, args.cpu_limit)
    calls: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[str] = collections.Counter()
    per_family: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    family_cases: collections.Counter[str] = collections.Counter()
    failures: list[tuple[int, str, str, str]] = []
    t0 = time.monotonic()
    try:
        for done, index in enumerate(indices, 1):
            family, status, outcomes, detail = pool.run(index)
            statuses[status] += 1
            family_cases[family] += 1
            calls.update(outcomes)
            per_family[family].update(outcomes)
            if status in BAD:
                per_family[family][status] += 1
                failures.append((index, family, status, detail))
            if done % 1000 == 0:
                print(f"  {done}/{len(indices)} cases, {time.monotonic() - t0:.0f} s, {len(failures)} failures",
                      flush=True)
    finally:
        pool.close()
    wall = time.monotonic() - t0
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print(f"\nedgepose fuzz: {len(indices)} cases, {sum(calls.values())} library calls, seed {args.seed}, "
          f"limits {args.cpu_limit:g} CPU s / {args.timeout:g} wall s per case, {pool.starts} worker start(s)")
    print(f"wall time {wall:.1f} s, CPU time {cpu:.1f} s (driver + workers, user + system)")
    print("library calls by outcome (a valid result, or the documented exception it raised):")
    for outcome, n in sorted(calls.items(), key=lambda kv: -kv[1]):
        print(f"  {outcome:<26}{n:>7}")
    print("cases by status (FAIL: undocumented exception or invalid result; HANG; CRASH; HARNESS_ERROR):")
    for status in ("ok", *BAD):
        print(f"  {status:<26}{statuses[status]:>7}")
    print("per family (cases: call outcomes):")
    for family in FAMILIES:
        if family_cases[family]:
            parts = ", ".join(f"{o} {n}" for o, n in sorted(per_family[family].items(), key=lambda kv: -kv[1]))
            print(f"  {family:<11}{family_cases[family]:>6}: {parts}")
    if failures:
        print(f"\nfailures (replay one with: {Path(__file__).name} --seed {args.seed} --replay N):")
    for index, family, status, detail in failures[: args.max_report]:
        if args.verbose:
            print(f"\n--- case {index} [{family}] {status}\n{detail}")
        else:
            print(f"  case {index} [{family}] {status}: {_first_line(detail)}")
    if failures:
        print(f"\n{len(failures)} failing case(s); worker log: {log_path}")
        return 1
    log_path.unlink(missing_ok=True)
    print("no crashes, hangs or undocumented exceptions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
