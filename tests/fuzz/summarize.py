"""Closing figures of a fuzz run (for run.sh): prints them, writes them to result.txt, exits 1 on any failure.

usage: summarize.py REPORT_JSON STATS_JSON SCHEMATHESIS_EXIT SERVER_LOG SERVER_EXIT RESULT_TXT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(path: str) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def main() -> int:
    report_path, stats_path, st_exit, log_path, server_exit, result_path = sys.argv[1:7]
    report = load(report_path)
    stats = load(stats_path) or {}
    lines: list[str] = []
    problems: list[str] = []

    if report is None:
        problems.append(f"schemathesis wrote no report ({report_path}); see its output above")
        report = {}
    ops = report.get("operations", {})
    cases = report.get("test_cases", {})
    generated = int(cases.get("generated", 0))
    with_failures = int(cases.get("with_failures", 0))
    errored = int(cases.get("errored", 0))

    lines.append(f"schemathesis {report.get('schemathesis_version', '?')}, seed {report.get('seed', '?')}, "
                 f"{report.get('running_time', 0):.1f}s, stop reason: {report.get('stop_reason', '?')}")
    tested_ops = sorted(stats.get("by_operation", {}))
    lines.append(f"operations covered: {ops.get('tested', 0)}/{ops.get('total', 0)}"
                 + (f" ({', '.join(tested_ops)})" if tested_ops else ""))
    lines.append(f"test cases generated: {generated} ({with_failures} with failures, {errored} errored)")
    by_status = stats.get("by_status", {})
    lines.append(f"responses: {stats.get('responses', 0)}; by status: "
                 + (", ".join(f"{k}: {v}" for k, v in by_status.items()) or "none"))
    by_code = stats.get("by_code", {})
    lines.append("GraphQL error codes: " + (", ".join(f"{k}: {v}" for k, v in by_code.items()) or "none"))
    lines.append("per operation (responses / with data, no errors):")
    for name, counts in stats.get("by_operation", {}).items():
        lines.append(f"  {name}: {counts.get('responses', 0)} / {counts.get('with data', 0)}")

    failures = report.get("failures", [])
    errors = report.get("errors", [])
    lines.append(f"failures: {len(failures)} kind(s)")
    for failure in failures:
        lines.append(f"  {failure.get('code')} {failure.get('title')}: {failure.get('count')} "
                     f"in {', '.join(failure.get('operations', []))}")
    for error in errors:
        lines.append(f"  error: {json.dumps(error)[:500]}")
    if failures or errors:
        problems.append("schemathesis reported failures or errors")
    if st_exit != "0":
        problems.append(f"schemathesis exited {st_exit}")

    five_xx = sum(v for k, v in by_status.items() if int(k) >= 500)
    if five_xx:
        problems.append(f"{five_xx} response(s) with a 5xx status")
    if by_code.get("INTERNAL_SERVER_ERROR"):
        problems.append(f"{by_code['INTERNAL_SERVER_ERROR']} INTERNAL_SERVER_ERROR error(s)")
    offending = stats.get("offending", [])
    if offending:
        lines.append(f"offending requests (distinct, at most 20 kept; the Authorization header held the fuzz user's token):")
    for entry in offending:
        lines.append(f"  {entry.get('operation')}, HTTP {entry.get('status')}: "
                     f"{entry.get('method')} {entry.get('url')} headers={json.dumps(entry.get('headers'))} "
                     f"body={json.dumps(entry.get('body'))}")
        lines.append(f"    response: {entry.get('response')}")

    try:
        log = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        log = []
        problems.append(f"no server log at {log_path}")
    panics = [line for line in log if "panicked at" in line]
    lines.append(f"server: exit {server_exit}, {len(panics)} panic(s) in its log")
    for line in list(dict.fromkeys(line.strip() for line in panics))[:10]:
        lines.append(f"  {line}")
    if panics:
        problems.append(f"{len(panics)} panic(s) in the server log ({log_path})")
    if server_exit != "0":
        problems.append(f"the server exited {server_exit} on SIGTERM")
    if generated == 0:
        problems.append("no test case was generated")

    # "failed" counts the test cases that failed a check or errored, plus one for each problem found
    # outside them (no report, a panic in the log, a bad server exit, ...).
    case_problems = ("schemathesis reported", "schemathesis exited", "response(s) with a 5xx", "INTERNAL_SERVER_ERROR")
    failed = with_failures + errored
    failed += sum(1 for p in problems if not any(marker in p for marker in case_problems))
    if failed == 0 and problems:
        failed = 1
    passed = max(generated - with_failures - errored, 0)
    for problem in problems:
        lines.append(f"FAILED: {problem}")
    lines.append(f"fuzz: {passed} passed, {failed} failed")

    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    Path(result_path).write_text(text, encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
