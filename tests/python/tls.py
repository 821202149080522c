#!/usr/bin/env python3
"""boto3 and the aws CLI against Eddy over HTTPS with a self-signed certificate.

Usage:
    python tests/python/tls.py https://127.0.0.1:PORT CERT.pem

tests/e2e/python.rs starts `eddy serve --tls-cert CERT.pem --tls-key KEY.pem` on an
ephemeral port and runs this. The certificate is trusted the way a user trusts it:
boto3 with `verify=CERT.pem`, or `AWS_CA_BUNDLE=CERT.pem` for boto3 and the aws CLI.
Without that trust both must refuse the connection (the certificate is really checked).

Output: one line per check, then "N passed, M failed"; exit code 0 only if all passed.
The aws CLI is taken from $EDDY_TEST_AWS, else next to this interpreter, else PATH.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import boto3
import botocore.exceptions
from botocore.config import Config
from checks import CheckFailed, check, eq, expect
from checks import run as run_checks

ENDPOINT = sys.argv[1].rstrip("/")
CERT = sys.argv[2]
REGION = "us-east-1"
PREFIX = f"tls-{uuid.uuid4().hex[:8]}"
CREATED = []
DEADLINE = time.monotonic() + 120

# Ignore any ~/.aws files, instance metadata, and an AWS_CA_BUNDLE of the caller's.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }
)
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_CA_BUNDLE", None)

NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def ddb(**kwargs):
    return boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name=REGION, config=NO_RETRIES, **kwargs)


def aws_cli_path():
    env = os.environ.get("EDDY_TEST_AWS")
    if env:
        return env
    beside = os.path.join(os.path.dirname(sys.executable), "aws")
    if os.path.exists(beside):
        return beside
    found = shutil.which("aws")
    if not found:
        raise CheckFailed("aws CLI not found (set EDDY_TEST_AWS)")
    return found


def aws(*args, ca_bundle):
    env = dict(os.environ)
    if ca_bundle:
        env["AWS_CA_BUNDLE"] = ca_bundle
    cmd = [aws_cli_path(), "dynamodb", *args, "--endpoint-url", ENDPOINT, "--region", REGION,
           "--output", "json", "--cli-connect-timeout", "5", "--cli-read-timeout", "30"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


@check
def boto3_with_verify_creates_writes_and_reads():
    c = ddb(verify=CERT)
    name = f"{PREFIX}-boto3"
    c.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    CREATED.append(name)
    c.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "7"}})
    got = c.get_item(TableName=name, Key={"pk": {"S": "a"}}, ConsistentRead=True)
    eq(got.get("Item"), {"pk": {"S": "a"}, "v": {"N": "7"}}, "the item read back over https")


@check
def boto3_with_aws_ca_bundle_lists_tables():
    os.environ["AWS_CA_BUNDLE"] = CERT
    try:
        names = ddb().list_tables()["TableNames"]
    finally:
        os.environ.pop("AWS_CA_BUNDLE", None)
    expect(f"{PREFIX}-boto3" in names, f"the table made over https is listed: {names}")


@check
def boto3_without_trust_refuses_the_certificate():
    try:
        ddb().list_tables()
    except botocore.exceptions.SSLError as e:
        expect("CERTIFICATE_VERIFY_FAILED" in str(e), f"a certificate verification failure: {e}")
    else:
        raise CheckFailed("boto3 trusted a self-signed certificate it was not told to trust")


@check
def aws_cli_with_aws_ca_bundle():
    p = aws("describe-table", "--table-name", f"{PREFIX}-boto3", ca_bundle=CERT)
    eq(p.returncode, 0, f"aws dynamodb describe-table over https ({p.stderr.strip()[-400:]})")
    eq(json.loads(p.stdout)["Table"]["TableStatus"], "ACTIVE", "TableStatus")
    p = aws("get-item", "--table-name", f"{PREFIX}-boto3", "--key", '{"pk": {"S": "a"}}', ca_bundle=CERT)
    eq(p.returncode, 0, f"aws dynamodb get-item over https ({p.stderr.strip()[-400:]})")
    eq(json.loads(p.stdout)["Item"]["v"], {"N": "7"}, "the item read by the CLI")


@check
def aws_cli_without_trust_refuses_the_certificate():
    p = aws("list-tables", ca_bundle=None)
    expect(p.returncode != 0, "the aws CLI trusted a self-signed certificate it was not told to trust")
    expect("CERTIFICATE_VERIFY_FAILED" in p.stderr, f"a certificate verification failure: {p.stderr[-400:]}")


def delete_created_tables():
    c = ddb(verify=CERT)
    for name in CREATED:
        try:
            c.delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - best effort
            pass


if __name__ == "__main__":
    sys.exit(run_checks(f"TLS test against {ENDPOINT}", [], DEADLINE, delete_created_tables))
