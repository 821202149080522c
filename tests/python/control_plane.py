#!/usr/bin/env python3
"""The control plane's settings and refusals through boto3: deletion protection,
the table class, and the tag operations' errors.

Usage:
    python tests/python/control_plane.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as smoke.py: the Rust integration test (tests/e2e/python.rs)
starts Eddy on an ephemeral port and runs this with the venv made by
./tests/run.sh. Every refusal is checked for DynamoDB's error code, HTTP status
and exact message (the messages real DynamoDB answers, as recorded by probes of
DynamoDB and by dynalite's tests).

Output: one line per check ("ok   name (0.12s)" / "FAIL name: why"), then a
final line "N passed, M failed". Exit code 0 only if every check passed.

Environment: EDDY_SMOKE_REGION (default us-east-1), EDDY_SMOKE_DEADLINE
(seconds for the whole run, default 300).
"""

import os
import sys
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from checks import CheckFailed, check, eq, expect
from checks import run as run_checks

if len(sys.argv) < 2 or not sys.argv[1].startswith("http"):
    print(__doc__)
    print("error: missing endpoint URL argument")
    sys.exit(2)

ENDPOINT = sys.argv[1].rstrip("/")
FILTERS = sys.argv[2:]
REGION = os.environ.get("EDDY_SMOKE_REGION", "us-east-1")
DEADLINE = time.monotonic() + float(os.environ.get("EDDY_SMOKE_DEADLINE", "300"))
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
PREFIX = f"control-{uuid.uuid4().hex[:8]}"

for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
    os.environ.pop(k, None)
os.environ.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                   "AWS_EC2_METADATA_DISABLED": "true"})

SESSION = boto3.session.Session(
    aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
)
BASE = Config(connect_timeout=5, read_timeout=60, retries={"total_max_attempts": 1})
# No client-side validation, so the *server* must refuse bad input.
RAW = Config(connect_timeout=5, read_timeout=60, parameter_validation=False, retries={"total_max_attempts": 1})
ddb = SESSION.client("dynamodb", endpoint_url=ENDPOINT, config=BASE)
raw = SESSION.client("dynamodb", endpoint_url=ENDPOINT, config=RAW)

CREATED = []
PROTECTED = ("Resource cannot be deleted as it is currently protected against deletion. "
             "Disable deletion protection first.")


def refused(code, message, fn, **kwargs):
    """fn must fail with HTTP 400, error `code` and exactly `message`."""
    try:
        fn(**kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        eq(err.get("Code"), code, "error code")
        eq(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), 400, "HTTP status")
        eq(err.get("Message"), message, "error message")
        return
    raise CheckFailed(f"expected {code}, but the call succeeded")


def create(name, **extra):
    CREATED.append(name)
    return ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )["TableDescription"]


def cleanup():
    for name in CREATED:
        try:
            ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
        except Exception:  # noqa: BLE001 - best effort
            pass
        try:
            ddb.delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - best effort
            pass


@check
def deletion_protection():
    name = f"{PREFIX}-protected"
    desc = create(name, DeletionProtectionEnabled=True)
    eq(desc["DeletionProtectionEnabled"], True, "CreateTable DeletionProtectionEnabled")
    refused("ValidationException", PROTECTED, ddb.delete_table, TableName=name)
    eq(ddb.describe_table(TableName=name)["Table"]["DeletionProtectionEnabled"], True,
       "still there and still protected")
    refused("ValidationException",
            "One or more parameter values were invalid: DeletionProtection modification must be the only operation in the request",
            ddb.update_table, TableName=name, DeletionProtectionEnabled=False,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    out = ddb.update_table(TableName=name, DeletionProtectionEnabled=False)["TableDescription"]
    eq(out["DeletionProtectionEnabled"], False, "UpdateTable DeletionProtectionEnabled")
    gone = ddb.delete_table(TableName=name)["TableDescription"]
    eq(gone["TableStatus"], "DELETING", "DeleteTable TableStatus")
    expect("KeySchema" not in gone, f"DeleteTable leaves out KeySchema: {gone}")


@check
def table_class_and_update_members():
    name = f"{PREFIX}-class"
    desc = create(name)
    expect("TableClassSummary" not in desc, "no TableClassSummary until a class is set")
    refused("ValidationException",
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, "
            "SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, "
            "DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required",
            ddb.update_table, TableName=name)
    refused("ValidationException",
            "Invalid table-class parameter provided. Please try again with a valid table-class value: "
            "[STANDARD, STANDARD_INFREQUENT_ACCESS].",
            raw.update_table, TableName=name, TableClass="standard")
    out = ddb.update_table(TableName=name, TableClass="STANDARD_INFREQUENT_ACCESS")["TableDescription"]
    eq(out["TableClassSummary"]["TableClass"], "STANDARD_INFREQUENT_ACCESS", "TableClass")
    expect("LastUpdateDateTime" in out["TableClassSummary"], "an UpdateTable change has its time")


@check
def tag_errors():
    name = f"{PREFIX}-tags"
    arn = create(name)["TableArn"]
    prefix = arn.rsplit(":table/", 1)[0]
    invalid = "One or more parameter values were invalid: "
    refused("ValidationException", f"{invalid}ARNs must start with 'arn:': abcd",
            ddb.list_tags_of_resource, ResourceArn="abcd")
    refused("ValidationException",
            f"{invalid}Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {arn}/index/i",
            ddb.tag_resource, ResourceArn=f"{arn}/index/i", Tags=[{"Key": "k", "Value": "v"}])
    missing = f"{prefix}:table/no-such-table"
    refused("ResourceNotFoundException", f"Requested resource not found: ResourcArn: {missing} not found",
            ddb.untag_resource, ResourceArn=missing, TagKeys=["k"])
    refused("ValidationException", "Atleast one Tag needs to be provided as Input.",
            ddb.tag_resource, ResourceArn=arn, Tags=[])
    refused("ValidationException", "Tag Key cannot be prefixed with aws:, Key: aws:x",
            ddb.tag_resource, ResourceArn=arn, Tags=[{"Key": "ok", "Value": "1"}, {"Key": "aws:x", "Value": "v"}])
    refused("ValidationException", "The Tag Value provided is invalid, Value: null",
            raw.tag_resource, ResourceArn=arn, Tags=[{"Key": "k"}])
    refused("ValidationException", "Number of Tags exceed the current limit for the provided ResourceArn",
            ddb.tag_resource, ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    eq(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"], [], "no refused tag was applied")
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "eddy"}])
    eq(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"], [{"Key": "team", "Value": "eddy"}], "tags")


if __name__ == "__main__":
    sys.exit(run_checks(f"control-plane test against {ENDPOINT} (region {REGION}, tables {PREFIX}-*)",
                        FILTERS, DEADLINE, cleanup))
