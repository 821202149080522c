"""The small check runner shared by the Python suites (smoke.py, expressions.py,
streams.py): assertion helpers and a registry of check functions that runs every
check, reports each failure and goes on, and ends with `N passed, M failed`."""

import time
import traceback

import botocore.exceptions


class CheckFailed(AssertionError):
    pass


def expect(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


CHECKS = []


def check(fn=None, *, always=False):
    """Registers a check; `always` ones run even when name filters are given."""

    def deco(f):
        CHECKS.append((f.__name__, f, always))
        return f

    return deco(fn) if fn else deco


def run(title, filters, deadline, cleanup):
    """Runs the registered checks in order; returns the process exit code."""
    passed = failed = 0
    print(title, flush=True)
    for name, fn, always in CHECKS:
        if filters and not always and not any(f in name for f in filters):
            continue
        t0 = time.monotonic()
        if t0 > deadline:
            failed += 1
            print(f"FAIL {name}: not started, EDDY_SMOKE_DEADLINE exceeded", flush=True)
            continue
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - t0:.2f}s): {type(e).__name__}: {e}", flush=True)
            expected = (CheckFailed, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
            if not isinstance(e, expected):
                for line in traceback.format_exc().rstrip().splitlines()[-6:]:
                    print(f"       {line}")
        else:
            passed += 1
            print(f"ok   {name} ({time.monotonic() - t0:.2f}s)", flush=True)
    cleanup()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1
