#!/usr/bin/env python3
"""SigV4 verification (`eddy serve --auth sigv4`) through boto3 and the aws CLI.

Usage:
    EDDY_KEY_ID=... EDDY_KEY_SECRET=... python tests/python/auth.py http://127.0.0.1:PORT

The key is one made by `eddy key create` (tests/e2e/python.rs makes it). Checks: the
allowed calls work with it; a wrong secret, an unknown key, a clock 20 minutes off
(botocore's clock, patched where its signer reads it) and a body changed after signing
each get DynamoDB's error code, HTTP status and message. Exit code 0 only if every
check passed.
"""

import datetime
import os
import subprocess
import sys
import uuid

import boto3
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
KEY_ID = os.environ["EDDY_KEY_ID"]
SECRET = os.environ["EDDY_KEY_SECRET"]
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})

failures = []


def client(key_id=KEY_ID, secret=SECRET):
    return boto3.client(
        "dynamodb",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=NO_RETRY,
    )


def expect_error(name, call, code, message=None, prefix=None):
    try:
        call()
    except ClientError as e:
        err = e.response["Error"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        ok = err["Code"] == code and status == 400
        if message is not None:
            ok = ok and err["Message"] == message
        if prefix is not None:
            ok = ok and err["Message"].startswith(prefix)
        if not ok:
            failures.append(f"{name}: got {status} {err}")
        return
    failures.append(f"{name}: no error")


def check(name, cond, detail=""):
    if not cond:
        failures.append(f"{name}: {detail}")


c = client()
table = f"auth-{uuid.uuid4().hex[:8]}"
c.create_table(
    TableName=table,
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    BillingMode="PAY_PER_REQUEST",
)
c.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
got = c.get_item(TableName=table, Key={"pk": {"S": "a"}})
check("allowed get_item", got.get("Item", {}).get("v") == {"N": "1"}, str(got))

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)
expect_error("wrong secret", lambda: client(secret="wrong").list_tables(),
             "InvalidSignatureException", prefix=MISMATCH)
expect_error("unknown key", lambda: client(key_id="EDDYUNKNOWNKEY000000").list_tables(),
             "UnrecognizedClientException",
             message="The security token included in the request is invalid.")

# A skewed clock: botocore's SigV4 signer takes the time from get_current_datetime.
real_now = botocore.auth.get_current_datetime
try:
    skewed = real_now() - datetime.timedelta(minutes=20)
    botocore.auth.get_current_datetime = lambda *a, **k: skewed
    stamp = skewed.strftime("%Y%m%dT%H%M%SZ")
    expect_error("clock 20 minutes behind", lambda: client().list_tables(),
                 "InvalidSignatureException",
                 prefix=f"Signature expired: {stamp} is now earlier than ")
    ahead = real_now() + datetime.timedelta(minutes=20)
    botocore.auth.get_current_datetime = lambda *a, **k: ahead
    expect_error("clock 20 minutes ahead", lambda: client().list_tables(),
                 "InvalidSignatureException", prefix="Signature not yet current: ")
finally:
    botocore.auth.get_current_datetime = real_now

# A body changed after it was signed (a handler after signing rewrites it).
tampered = client()


def tamper(request, **kwargs):
    request.body = request.body.replace(b'"a"', b'"b"')


tampered.meta.events.register_last("before-send.dynamodb.GetItem", tamper)
expect_error("tampered body",
             lambda: tampered.get_item(TableName=table, Key={"pk": {"S": "a"}}),
             "InvalidSignatureException", prefix=MISMATCH)

# The aws CLI with the key in its environment; then with a wrong secret.
aws = os.environ.get("EDDY_TEST_AWS") or os.path.join(os.path.dirname(sys.executable), "aws")
env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET,
           AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
env.pop("AWS_SESSION_TOKEN", None)
out = subprocess.run([aws, "dynamodb", "list-tables", "--endpoint-url", ENDPOINT],
                     env=env, capture_output=True, text=True)
check("aws CLI allowed", out.returncode == 0 and table in out.stdout, out.stderr)
env["AWS_SECRET_ACCESS_KEY"] = "wrong"
out = subprocess.run([aws, "dynamodb", "list-tables", "--endpoint-url", ENDPOINT],
                     env=env, capture_output=True, text=True)
check("aws CLI wrong secret", out.returncode != 0
      and "(InvalidSignatureException)" in out.stderr and MISMATCH in out.stderr, out.stderr)

for f in failures:
    print("FAIL", f)
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
