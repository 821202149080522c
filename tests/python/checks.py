"""The small check runner shared by the Python suites (smoke.py, expressions.py,
streams.py, ...): assertion helpers, a registry of check functions that runs every
check, reports each failure and goes on, and ends with `N passed, M failed`, and the
command line and client set-up the unsigned suites share (`standalone`)."""

import os
import sys
import time
import traceback
import uuid
from types import SimpleNamespace

import boto3
import botocore.exceptions
from botocore.config import Config


def _command_line(doc):
    """The endpoint and name filters of `suite.py ENDPOINT [FILTER...]`, or the usage
    and exit code 2 without them."""
    if len(sys.argv) < 2 or not sys.argv[1].startswith("http"):
        print(doc)
        print("error: missing endpoint URL argument")
        sys.exit(2)
    return sys.argv[1].rstrip("/"), sys.argv[2:]


def _deadline():
    """The suite's deadline from EDDY_SMOKE_DEADLINE (seconds, default 300)."""
    return time.monotonic() + float(os.environ.get("EDDY_SMOKE_DEADLINE", "300"))


def _shut_out_shared_config(env):
    """Sets `env` and shuts every shared config file, session token and profile out, so
    that nothing on the machine changes what the suite sends."""
    os.environ.update(
        {
            **env,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


# A client that does not retry, so each refusal is seen as it is.
NO_RETRIES = Config(connect_timeout=5, read_timeout=60, retries={"total_max_attempts": 1})
# The same without client-side validation, so the *server* must refuse bad input.
NO_VALIDATION = Config(
    connect_timeout=5, read_timeout=60, parameter_validation=False, retries={"total_max_attempts": 1}
)


def standalone(doc, prefix):
    """The set-up of a suite run as `suite.py ENDPOINT [FILTER...]`: the endpoint and
    name filters from the command line (the usage and exit code 2 without them), a
    deadline from EDDY_SMOKE_DEADLINE (seconds, default 300), a table prefix
    `<prefix>-<random>`, dummy credentials with every shared config file shut out (so
    nothing on the machine changes what the suite sends), and a DynamoDB client that
    does not retry, so each refusal is seen as it is."""
    endpoint, filters = _command_line(doc)
    region = os.environ.get("EDDY_SMOKE_REGION", "us-east-1")
    _shut_out_shared_config(
        {
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "AWS_DEFAULT_REGION": region,
        }
    )
    session = boto3.session.Session(region_name=region)
    return SimpleNamespace(
        endpoint=endpoint,
        filters=filters,
        region=region,
        deadline=_deadline(),
        prefix=f"{prefix}-{uuid.uuid4().hex[:8]}",
        session=session,
        config=NO_RETRIES,
        ddb=session.client("dynamodb", endpoint_url=endpoint, config=NO_RETRIES),
    )


def signed(doc):
    """The set-up of a suite that signs with the administrator's key (EDDY_ADMIN_ID and
    EDDY_ADMIN_SECRET, by default the server's own defaults), run as `suite.py ENDPOINT
    [FILTER...]`: the command line and deadline as `standalone` has them, every shared
    config file shut out, and a session with that key. Clients are made with
    `NO_RETRIES` or `NO_VALIDATION`."""
    endpoint, filters = _command_line(doc)
    region = os.environ.get("EDDY_SMOKE_REGION", "us-east-1")
    key_id = os.environ.get("EDDY_ADMIN_ID", "AKIDEXAMPLE")
    secret = os.environ.get("EDDY_ADMIN_SECRET", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    _shut_out_shared_config({})
    return SimpleNamespace(
        endpoint=endpoint,
        filters=filters,
        region=region,
        deadline=_deadline(),
        key_id=key_id,
        secret=secret,
        session=boto3.session.Session(
            aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=region
        ),
    )


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
