"""Schemathesis hooks for tests/fuzz/run.sh (loaded through SCHEMATHESIS_HOOKS).

Two checks, a tally of every response for the closing figures, and an `X-Forwarded-For` header.

Schemathesis' own `not_a_server_error` is not used: for GraphQL it also counts every resolver error
that carries a `path` as a server error, and latchkey answers UNAUTHENTICATED, INVALID_CREDENTIALS,
RATE_LIMITED, ... exactly that way, by design. What must never happen is what these checks look for:
an HTTP 5xx, and an `INTERNAL_SERVER_ERROR` (the code the server gives anything unexpected).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import threading
from collections import Counter, defaultdict

import schemathesis

INTERNAL = b"INTERNAL_SERVER_ERROR"

_lock = threading.Lock()
_responses = 0
_by_status: Counter[int] = Counter()
_by_code: Counter[str] = Counter()
_by_operation: dict[str, Counter[str]] = defaultdict(Counter)
_offending: list[dict] = []  # distinct (operation, status, body) of 5xx / INTERNAL_SERVER_ERROR responses
_offending_seen: set[tuple] = set()
_OFFENDING_KEPT = 20


def _request_of(case, response) -> dict:
    request = getattr(response, "request", None)
    body = getattr(request, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    # The headers that matter to the server; the rest are the client's (User-Agent, Accept-Encoding, ...).
    headers = {
        name: value
        for name, value in (getattr(request, "headers", {}) or {}).items()
        if name.lower() in ("authorization", "x-forwarded-for", "content-type", "accept")
    }
    if "Authorization" in headers:
        headers["Authorization"] = "Bearer <fuzz user's access token>"
    return {
        "operation": case.operation.label,
        "method": getattr(request, "method", None),
        "url": getattr(request, "url", None),
        "headers": headers,
        "body": body,
    }


@schemathesis.check
def latchkey_no_5xx(ctx, response, case):
    """No request, however malformed, may make the server answer 5xx."""
    if response.status_code >= 500:
        raise AssertionError(f"The server answered HTTP {response.status_code}")
    return None


@schemathesis.check
def latchkey_no_internal_server_error(ctx, response, case):
    """No request may reach the server's catch-all error (`INTERNAL_SERVER_ERROR`)."""
    if INTERNAL in response.content:
        raise AssertionError("The response contains INTERNAL_SERVER_ERROR")
    return None


# run.sh starts the server trusting 127.0.0.1 as a proxy, and most requests claim to come from one of
# many documentation-range addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32);
# nothing is ever sent to them, they are only header values. Otherwise the per-address limits would
# answer RATE_LIMITED to nearly every signup and login after the first seconds, and the fuzzer would
# never get past them. The address is derived from the request body, so a failing case is reproduced
# with the same header; some requests carry none or a malformed one, to fuzz the header's parsing too.
_ODD_FORWARDED_FOR = ("", "unknown", "300.1.2.3", "198.51.100.7, not-an-ip", ",, ,", "2001:db8::1", "::ffff:203.0.113.9")


def _forwarded_for(body: object) -> str | None:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).digest()
    pick = digest[0] % 16
    if pick < 2:
        return None  # the loopback peer itself
    if pick < 4:
        return _ODD_FORWARDED_FOR[digest[1] % len(_ODD_FORWARDED_FOR)]
    if pick < 7:
        return f"2001:db8:{digest[2]:x}{digest[3]:02x}::{digest[4]:x}"
    net = ("192.0.2", "198.51.100", "203.0.113")[digest[2] % 3]
    return f"{net}.{digest[3]}"


@schemathesis.hook
def before_call(context, case, kwargs):
    value = _forwarded_for(case.body)
    if value is not None:
        case.headers = {**(case.headers or {}), "X-Forwarded-For": value}


@schemathesis.hook
def after_call(context, case, response):
    global _responses
    codes: list[str] = []
    has_data = False
    try:
        payload = json.loads(response.content)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        for error in payload.get("errors") or []:
            if isinstance(error, dict) and isinstance(error.get("extensions"), dict):
                code = error["extensions"].get("code")
                if isinstance(code, str):
                    codes.append(code)
        has_data = isinstance(payload.get("data"), dict) and not payload.get("errors")
    bad = response.status_code >= 500 or INTERNAL in response.content
    with _lock:
        _responses += 1
        _by_status[response.status_code] += 1
        _by_code.update(codes)
        op = _by_operation[case.operation.label]
        op["responses"] += 1
        if has_data:
            op["with data"] += 1
        for code in set(codes):
            op[code] += 1
        if bad:
            entry = _request_of(case, response)
            key = (entry["operation"], response.status_code, entry["body"])
            if key not in _offending_seen and len(_offending) < _OFFENDING_KEPT:
                _offending_seen.add(key)
                entry["status"] = response.status_code
                entry["response"] = response.content.decode("utf-8", "replace")[:2000]
                _offending.append(entry)


def _dump() -> None:
    path = os.environ.get("LATCHKEY_FUZZ_STATS")
    if not path:
        return
    with _lock:
        stats = {
            "responses": _responses,
            "by_status": {str(k): v for k, v in sorted(_by_status.items())},
            "by_code": dict(_by_code.most_common()),
            "by_operation": {k: dict(v) for k, v in sorted(_by_operation.items())},
            "offending": _offending,
        }
    with open(path, "w", encoding="utf-8") as fd:
        json.dump(stats, fd, indent=2)


atexit.register(_dump)
