#!/usr/bin/env python3
"""Smoke test of a DynamoDB-compatible endpoint with boto3 and the aws CLI.

Usage:
    python tests/python/smoke.py http://127.0.0.1:PORT [NAME_FILTER...]

The Rust integration tests start the Eddy server on an ephemeral port and run
this with the venv made by ./tests/run.sh (EDDY_TEST_PYTHON). It asserts what
real DynamoDB does (API reference), not what any particular emulator does.

Output: one line per check ("ok   name (0.12s)" / "FAIL name: why"), then a
final line "N passed, M failed". Exit code 0 only if every check passed.
A failing check never stops the run, so one run shows every failure.
Optional NAME_FILTER arguments run only checks whose name contains one of them
(the checks that create the shared tables always run).

The aws CLI is taken from $EDDY_TEST_AWS, else next to this interpreter
(venv bin/), else from PATH.

Tables are named "smoke-<random>-<role>" so runs never collide, and every
table this run created is deleted at the end (best effort).

Checks that fail against dynalite 4 (the Node.js emulator this was first
developed against, before Eddy could answer) because dynalite differs from
DynamoDB; everything else passes there:
  - describe_limits, describe_endpoints: dynalite lacks these operations
    (UnknownOperationException).
  - describe_table_fields: dynalite's TableId is not a UUID (it truncates it).
  - error_create_existing_table: dynalite's ResourceInUseException has an empty
    message (DynamoDB says "Table already exists: <name>").

Environment: EDDY_SMOKE_REGION (default us-east-1), EDDY_SMOKE_DEADLINE
(seconds for the whole run, default 300; checks not started by then fail).
"""

import base64
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zlib
from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import Binary
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from checks import CheckFailed, check, eq, expect  # noqa: F401 - shared runner
from checks import run as run_checks

# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------

if len(sys.argv) < 2 or not sys.argv[1].startswith("http"):
    print(__doc__)
    print("error: missing endpoint URL argument")
    sys.exit(2)

ENDPOINT = sys.argv[1].rstrip("/")
FILTERS = sys.argv[2:]
REGION = os.environ.get("EDDY_SMOKE_REGION", "us-east-1")
DEADLINE = time.monotonic() + float(os.environ.get("EDDY_SMOKE_DEADLINE", "300"))
# A key the test created when the server verifies signatures (`--auth sigv4`), else any.
ACCESS_KEY = os.environ.get("EDDY_KEY_ID", "AKIDEXAMPLE")
SECRET_KEY = os.environ.get("EDDY_KEY_SECRET", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
RUN_ID = uuid.uuid4().hex[:8]
PREFIX = f"smoke-{RUN_ID}"

# Make both boto3 and the aws CLI ignore any ~/.aws files and instance metadata.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "2",
    }
)
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)

SESSION = boto3.session.Session(
    aws_access_key_id=ACCESS_KEY,
    aws_secret_access_key=SECRET_KEY,
    region_name=REGION,
)
BASE_CONFIG = Config(
    connect_timeout=5,
    read_timeout=60,
    retries={"total_max_attempts": 2, "mode": "standard"},
)
# Client for the normal checks.
ddb = SESSION.client("dynamodb", endpoint_url=ENDPOINT, config=BASE_CONFIG)
res = SESSION.resource("dynamodb", endpoint_url=ENDPOINT, config=BASE_CONFIG)
# Client for error checks: no client-side validation (so the *server* must
# reject bad input, e.g. table name "a") and no retries.
raw = SESSION.client(
    "dynamodb",
    endpoint_url=ENDPOINT,
    config=Config(
        connect_timeout=5,
        read_timeout=60,
        parameter_validation=False,
        retries={"total_max_attempts": 1},
    ),
)

WAIT = {"Delay": 1, "MaxAttempts": 60}

# role -> table name; filled by the setup checks
T = {}
CREATED = []


def tname(role):
    return f"{PREFIX}-{role}"


# ---------------------------------------------------------------------------
# tiny assertion helpers
# ---------------------------------------------------------------------------


def expect_error(code, fn, *args, **kwargs):
    """Call fn, which must fail with a 400 ClientError of `code` and a message."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        eq(err.get("Code"), code, "error code")
        eq(status, 400, f"HTTP status of {code}")
        expect(err.get("Message"), f"{code} has an empty message")
        return e
    raise CheckFailed(f"expected {code}, but the call succeeded")


# ---------------------------------------------------------------------------
# runner
# ---------------------------------------------------------------------------

def run_all():
    return run_checks(f"smoke test against {ENDPOINT} (region {REGION}, tables {PREFIX}-*)", FILTERS, DEADLINE, cleanup)


def cleanup():
    for name in CREATED:
        try:
            ddb.delete_table(TableName=name)
        except ClientError:
            pass
        except Exception as e:  # noqa: BLE001
            print(f"     (cleanup of {name} failed: {e})")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def create_table(role, hash_key, range_key=None, provisioned=None):
    """Create a table (PAY_PER_REQUEST, or PROVISIONED with (rcu, wcu)) and wait."""
    name = tname(role)
    attrs = [{"AttributeName": hash_key[0], "AttributeType": hash_key[1]}]
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": range_key[0], "AttributeType": range_key[1]})
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
    kw = dict(TableName=name, AttributeDefinitions=attrs, KeySchema=schema)
    if provisioned:
        kw["BillingMode"] = "PROVISIONED"
        kw["ProvisionedThroughput"] = {
            "ReadCapacityUnits": provisioned[0],
            "WriteCapacityUnits": provisioned[1],
        }
    else:
        kw["BillingMode"] = "PAY_PER_REQUEST"
    resp = ddb.create_table(**kw)
    CREATED.append(name)
    desc = resp["TableDescription"]
    eq(desc["TableName"], name, "CreateTable TableName")
    expect(desc["TableStatus"] in ("CREATING", "ACTIVE"), f"CreateTable status {desc['TableStatus']}")
    eq(desc["KeySchema"], schema, "CreateTable KeySchema")
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig=WAIT)
    T[role] = name
    return name


def table(role):
    if role not in T:
        raise CheckFailed(f"table '{role}' was not created (earlier check failed)")
    return T[role]


def page_all(op, key_out, key_in, **kw):
    """Run a Query/Scan to exhaustion; return (pages, items)."""
    pages, items = [], []
    while True:
        resp = op(**kw)
        pages.append(resp)
        items.extend(resp.get("Items", []))
        lek = resp.get(key_out)
        if not lek:
            return pages, items
        kw[key_in] = lek
        expect(len(pages) < 10000, "paging does not terminate")


def n_of(item, attr):
    return Decimal(item[attr]["N"])


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


def aws(*args, expect_ok=True):
    cmd = [aws_cli_path(), "dynamodb", *args, "--endpoint-url", ENDPOINT,
           "--region", REGION, "--output", "json",
           "--cli-connect-timeout", "5", "--cli-read-timeout", "60"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if expect_ok and p.returncode != 0:
        raise CheckFailed(
            f"`aws dynamodb {' '.join(args[:1])}` exited {p.returncode}: "
            f"{p.stderr.strip()[-500:]}"
        )
    out = p.stdout.strip()
    return json.loads(out) if out else None


def signed_post(target, body, content_type="application/x-amz-json-1.0"):
    """POST raw bytes with a valid SigV4 signature; return (status, headers, body)."""
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "dynamodb", REGION).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(ENDPOINT + "/", data=body, method="POST",
                               headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ===========================================================================
# control plane
# ===========================================================================


@check(always=True)
def create_table_hash_only_pay_per_request():
    name = create_table("items", ("pk", "S"))
    d = ddb.describe_table(TableName=name)["Table"]
    eq(d["TableStatus"], "ACTIVE", "TableStatus")
    eq(d["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}], "KeySchema")
    eq(d["AttributeDefinitions"], [{"AttributeName": "pk", "AttributeType": "S"}],
       "AttributeDefinitions")
    eq(d.get("BillingModeSummary", {}).get("BillingMode"), "PAY_PER_REQUEST",
       "BillingModeSummary.BillingMode")
    pt = d.get("ProvisionedThroughput", {})
    eq((pt.get("ReadCapacityUnits"), pt.get("WriteCapacityUnits")), (0, 0),
       "on-demand ProvisionedThroughput (RCU, WCU)")


@check(always=True)
def create_table_hash_range_provisioned():
    name = create_table("sorted", ("pk", "S"), ("sk", "N"), provisioned=(5, 4))
    d = ddb.describe_table(TableName=name)["Table"]
    eq(d["TableStatus"], "ACTIVE", "TableStatus")
    eq(d["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"}], "KeySchema")
    eq(sorted((a["AttributeName"], a["AttributeType"]) for a in d["AttributeDefinitions"]),
       [("pk", "S"), ("sk", "N")], "AttributeDefinitions")
    pt = d["ProvisionedThroughput"]
    eq((pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]), (5, 4), "ProvisionedThroughput")
    # DynamoDB omits BillingModeSummary for tables that were always PROVISIONED,
    # and reports PROVISIONED when present.
    bms = d.get("BillingModeSummary")
    if bms is not None:
        eq(bms.get("BillingMode"), "PROVISIONED", "BillingModeSummary.BillingMode")


@check(always=True)
def create_more_tables():
    create_table("str", ("pk", "S"), ("sk", "S"))
    create_table("bulk", ("pk", "S"))
    create_table("ctl", ("id", "N"), provisioned=(5, 5))


@check
def describe_table_fields():
    name = table("sorted")
    d = ddb.describe_table(TableName=name)["Table"]
    eq(d["TableName"], name, "TableName")
    arn = d.get("TableArn", "")
    m = re.fullmatch(r"arn:aws:dynamodb:([a-z]{2}(-[a-z]+)+-\d+):(\d{12}):table/(.+)", arn)
    expect(m, f"TableArn {arn!r} does not look like arn:aws:dynamodb:<region>:<12 digits>:table/<name>")
    eq(m.group(4), name, "table name in TableArn")
    expect(isinstance(d.get("ItemCount"), int) and d["ItemCount"] >= 0, f"ItemCount {d.get('ItemCount')!r}")
    expect(isinstance(d.get("TableSizeBytes"), int) and d["TableSizeBytes"] >= 0,
           f"TableSizeBytes {d.get('TableSizeBytes')!r}")
    cdt = d.get("CreationDateTime")
    expect(isinstance(cdt, datetime.datetime), f"CreationDateTime {cdt!r}")
    age = abs((datetime.datetime.now(datetime.timezone.utc) - cdt).total_seconds())
    expect(age < 600, f"CreationDateTime {cdt} is {age:.0f}s away from now")
    expect(d.get("TableId") is None or re.fullmatch(r"[0-9a-f-]{36}", d["TableId"]),
           f"TableId {d.get('TableId')!r} is not a UUID")


@check
def list_tables_paging_limit_1():
    mine = sorted(T[r] for r in ("items", "sorted", "str") if r in T)
    expect(len(mine) >= 3, "fewer than 3 tables were created")
    names, kw, calls = [], {"Limit": 1}, 0
    while True:
        resp = ddb.list_tables(**kw)
        calls += 1
        expect(len(resp["TableNames"]) <= 1, f"Limit=1 returned {resp['TableNames']}")
        names.extend(resp["TableNames"])
        last = resp.get("LastEvaluatedTableName")
        if not last:
            break
        eq(last, resp["TableNames"][-1] if resp["TableNames"] else last, "LastEvaluatedTableName")
        kw["ExclusiveStartTableName"] = last
        expect(calls < 5000, "ListTables paging does not terminate")
    for n in mine:
        expect(n in names, f"{n} missing from paged ListTables")
    eq(len(names), len(set(names)), "duplicate names across ListTables pages")
    eq(names, sorted(names), "ListTables order")
    # A page starting after our first table continues with the next name.
    resp = ddb.list_tables(ExclusiveStartTableName=mine[0], Limit=100)
    expect(mine[0] not in resp["TableNames"], "ExclusiveStartTableName itself was returned")
    expect(mine[1] in resp["TableNames"], "table after ExclusiveStartTableName missing")


@check
def update_table_throughput_and_billing_mode():
    name = table("ctl")
    resp = ddb.update_table(
        TableName=name,
        ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 7},
    )
    eq(resp["TableDescription"]["TableName"], name, "UpdateTable TableName")
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig=WAIT)
    d = ddb.describe_table(TableName=name)["Table"]
    pt = d["ProvisionedThroughput"]
    eq((pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]), (10, 7), "updated ProvisionedThroughput")
    ddb.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
    # DynamoDB goes UPDATING -> ACTIVE; wait for ACTIVE.
    for _ in range(60):
        d = ddb.describe_table(TableName=name)["Table"]
        if d["TableStatus"] == "ACTIVE":
            break
        time.sleep(1)
    eq(d["TableStatus"], "ACTIVE", "TableStatus after billing switch")
    eq(d.get("BillingModeSummary", {}).get("BillingMode"), "PAY_PER_REQUEST",
       "BillingModeSummary.BillingMode after switch")


@check
def tags_tag_list_untag():
    name = table("ctl")
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "test"},
                                            {"Key": "team", "Value": "eddy"}])
    tags = ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]
    eq(sorted((t["Key"], t["Value"]) for t in tags), [("env", "test"), ("team", "eddy")],
       "tags after TagResource")
    ddb.untag_resource(ResourceArn=arn, TagKeys=["env"])
    tags = ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]
    eq([(t["Key"], t["Value"]) for t in tags], [("team", "eddy")], "tags after UntagResource")


@check
def time_to_live_cli_and_boto3():
    name = create_table("ttl", ("id", "S"))
    eq(ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
       {"TimeToLiveStatus": "DISABLED"}, "DescribeTimeToLive before")
    out = aws("update-time-to-live", "--table-name", name,
              "--time-to-live-specification", "Enabled=true,AttributeName=expires_at")
    eq(out["TimeToLiveSpecification"], {"Enabled": True, "AttributeName": "expires_at"},
       "update-time-to-live output")
    out = aws("describe-time-to-live", "--table-name", name)
    eq(out["TimeToLiveDescription"],
       {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}, "describe-time-to-live")
    expect_error("ValidationException", ddb.update_time_to_live, TableName=name,
                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})


@check
def secondary_indexes_boto3_and_cli():
    # A table with a global index (the boto3 resource API's everyday use) and a local
    # one, created through the aws CLI, then written and queried through boto3.
    name = tname("indexes")
    aws("create-table", "--table-name", name, "--billing-mode", "PAY_PER_REQUEST",
        "--attribute-definitions", "AttributeName=pk,AttributeType=S",
        "AttributeName=sk,AttributeType=N", "AttributeName=email,AttributeType=S",
        "AttributeName=score,AttributeType=N",
        "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
        "--global-secondary-indexes",
        "IndexName=by_email,KeySchema=[{AttributeName=email,KeyType=HASH}],"
        "Projection={ProjectionType=KEYS_ONLY}",
        "--local-secondary-indexes",
        "IndexName=by_score,KeySchema=[{AttributeName=pk,KeyType=HASH},"
        "{AttributeName=score,KeyType=RANGE}],Projection={ProjectionType=ALL}")
    CREATED.append(name)
    T["indexes"] = name
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig=WAIT)
    t = res.Table(name)
    for i in range(5):
        item = {"pk": "u", "sk": i, "score": 100 - i, "note": f"n{i}"}
        if i != 4:  # the last item has no e-mail: a sparse global index leaves it out
            item["email"] = f"e{i % 2}@x"
        t.put_item(Item=item)
    r = t.query(IndexName="by_email", KeyConditionExpression=Key("email").eq("e0@x"))
    eq(sorted(int(i["sk"]) for i in r["Items"]), [0, 2], "GSI query")
    eq(sorted(r["Items"][0].keys()), ["email", "pk", "sk"], "KEYS_ONLY projection")
    r = t.query(IndexName="by_score", KeyConditionExpression=Key("pk").eq("u") & Key("score").gt(97))
    eq([int(i["sk"]) for i in r["Items"]], [2, 1, 0], "LSI order by score")
    eq(t.scan(IndexName="by_email", Select="COUNT")["Count"], 4, "sparse GSI scan count")
    expect_error("ValidationException", ddb.query, TableName=name, IndexName="by_email",
                 KeyConditionExpression="email = :e", ConsistentRead=True,
                 ExpressionAttributeValues={":e": {"S": "e0@x"}})
    out = aws("describe-table", "--table-name", name)["Table"]
    eq([(g["IndexName"], g["ItemCount"]) for g in out["GlobalSecondaryIndexes"]],
       [("by_email", 4)], "describe-table GlobalSecondaryIndexes")
    eq([(g["IndexName"], g["ItemCount"]) for g in out["LocalSecondaryIndexes"]],
       [("by_score", 5)], "describe-table LocalSecondaryIndexes")


@check
def describe_limits():
    r = ddb.describe_limits()
    for k in ("AccountMaxReadCapacityUnits", "AccountMaxWriteCapacityUnits",
              "TableMaxReadCapacityUnits", "TableMaxWriteCapacityUnits"):
        expect(isinstance(r.get(k), int) and r[k] > 0, f"DescribeLimits {k} = {r.get(k)!r}")
    expect(r["TableMaxReadCapacityUnits"] <= r["AccountMaxReadCapacityUnits"],
           "TableMaxReadCapacityUnits > AccountMaxReadCapacityUnits")


@check
def describe_endpoints():
    r = ddb.describe_endpoints()
    eps = r.get("Endpoints")
    expect(isinstance(eps, list) and eps, f"Endpoints {eps!r}")
    for ep in eps:
        expect(isinstance(ep.get("Address"), str) and ep["Address"], f"Address {ep!r}")
        expect(isinstance(ep.get("CachePeriodInMinutes"), int) and ep["CachePeriodInMinutes"] > 0,
               f"CachePeriodInMinutes {ep!r}")


@check
def feature_describes_boto3_and_cli():
    """The read-only calls tools make on every table, for features Eddy lacks: what
    DynamoDB answers for a table that does not use them, and for a missing table."""
    name = table("items")
    r = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    eq(r["ContinuousBackupsStatus"], "ENABLED", "ContinuousBackupsStatus")
    eq(r["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"], "DISABLED",
       "PointInTimeRecoveryStatus")
    r = ddb.describe_contributor_insights(TableName=name)
    eq((r["TableName"], r["ContributorInsightsStatus"]), (name, "DISABLED"),
       "DescribeContributorInsights")
    r = ddb.describe_kinesis_streaming_destination(TableName=name)
    eq((r["TableName"], r["KinesisDataStreamDestinations"]), (name, []),
       "DescribeKinesisStreamingDestination")
    eq(ddb.list_global_tables()["GlobalTables"], [], "ListGlobalTables")
    r = ddb.describe_table_replica_auto_scaling(TableName=name)["TableAutoScalingDescription"]
    eq((r["TableName"], r["TableStatus"], r["Replicas"]), (name, "ACTIVE", []),
       "DescribeTableReplicaAutoScaling")
    # The same through the aws CLI.
    out = aws("describe-continuous-backups", "--table-name", name)
    eq(out["ContinuousBackupsDescription"]["ContinuousBackupsStatus"], "ENABLED",
       "describe-continuous-backups")
    out = aws("describe-contributor-insights", "--table-name", name)
    eq(out["ContributorInsightsStatus"], "DISABLED", "describe-contributor-insights")
    out = aws("describe-kinesis-streaming-destination", "--table-name", name)
    eq(out["KinesisDataStreamDestinations"], [], "describe-kinesis-streaming-destination")
    eq(aws("list-global-tables")["GlobalTables"], [], "list-global-tables")
    out = aws("describe-table-replica-auto-scaling", "--table-name", name)
    eq(out["TableAutoScalingDescription"]["TableStatus"], "ACTIVE",
       "describe-table-replica-auto-scaling")
    # A missing table.
    missing = tname("no-such-table")
    e = expect_error("TableNotFoundException", ddb.describe_continuous_backups,
                     TableName=missing)
    eq(e.response["Error"]["Message"], f"Table not found: {missing}", "message")
    for call in (ddb.describe_contributor_insights, ddb.describe_kinesis_streaming_destination,
                 ddb.describe_table_replica_auto_scaling):
        e = expect_error("ResourceNotFoundException", call, TableName=missing)
        eq(e.response["Error"]["Message"],
           f"Requested resource not found: Table: {missing} not found", "message")


@check
def create_wait_delete_wait():
    name = create_table("tmp", ("k", "B"))
    resp = ddb.delete_table(TableName=name)
    eq(resp["TableDescription"]["TableName"], name, "DeleteTable TableName")
    ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig=WAIT)
    expect_error("ResourceNotFoundException", ddb.describe_table, TableName=name)
    T.pop("tmp", None)


# ===========================================================================
# data plane
# ===========================================================================

ALL_TYPES = {
    "pk": {"S": "all-types"},
    "s": {"S": "héllo wörld ✓ 日本"},
    "n": {"N": "1.50"},
    "n_lead0": {"N": "007"},
    "n_neg": {"N": "-0.0010"},
    "n_big": {"N": "12345678901234567890123456789012345678"},
    "n_small": {"N": "1E-130"},
    "b": {"B": b"\x00\x01\x02\xfe\xffbin"},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "nul": {"NULL": True},
    "m": {"M": {"child": {"S": "x"},
                "deep": {"M": {"l": {"L": [{"N": "1"}, {"S": "two"}, {"BOOL": True}]}}}}},
    "l": {"L": [{"S": "a"}, {"N": "2"}, {"L": [{"BOOL": False}, {"NULL": True}]},
                {"M": {"k": {"B": b"\x00"}}}, {"SS": ["x", "y"]}]},
    "ss": {"SS": ["c", "a", "b"]},
    "ns": {"NS": ["1", "2.50", "-3"]},
    "bs": {"BS": [b"\x01", b"\x02\x03"]},
    "empty_m": {"M": {}},
    "empty_l": {"L": []},
}


@check
def put_get_all_ten_types_client():
    name = table("items")
    r = ddb.put_item(TableName=name, Item=ALL_TYPES)
    expect("Attributes" not in r, "PutItem without ReturnValues returned Attributes")
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "all-types"}}, ConsistentRead=True)
    item = got.get("Item")
    expect(item, "GetItem returned no Item")
    eq(set(item), set(ALL_TYPES), "attribute names")
    for k in ("pk", "s", "b", "t", "f", "nul", "m", "empty_m", "empty_l"):
        eq(item[k], ALL_TYPES[k], f"attribute {k}")
    # numbers: normalised (leading/trailing zeros trimmed) and exact
    eq(item["n"], {"N": "1.5"}, "N 1.50 normalised")
    eq(item["n_lead0"], {"N": "7"}, "N 007 normalised")
    eq(Decimal(item["n_neg"]["N"]), Decimal("-0.001"), "N -0.0010")
    eq(item["n_big"], {"N": "12345678901234567890123456789012345678"}, "38-digit N")
    eq(Decimal(item["n_small"]["N"]), Decimal("1E-130"), "N 1E-130")
    # lists keep order; sets are unordered
    eq(item["l"]["L"][:4], ALL_TYPES["l"]["L"][:4], "list elements")
    eq(set(item["l"]["L"][4]["SS"]), {"x", "y"}, "SS inside L")
    eq(set(item["ss"]["SS"]), {"a", "b", "c"}, "SS")
    eq({Decimal(x) for x in item["ns"]["NS"]}, {Decimal(1), Decimal("2.5"), Decimal(-3)}, "NS")
    eq(set(item["bs"]["BS"]), {b"\x01", b"\x02\x03"}, "BS")


@check
def put_get_resource_python_types():
    t = res.Table(table("items"))
    item = {
        "pk": "py-types",
        "s": "text",
        "n": Decimal("1.50"),
        "i": 42,
        "neg": Decimal("-10"),
        "b": Binary(b"\xde\xad\xbe\xef"),
        "yes": True,
        "none": None,
        "m": {"a": [1, "x", {"deep": Decimal("0.25")}], "empty": {}},
        "ss": {"p", "q"},
        "ns": {Decimal("1.1"), Decimal(2)},
        "bs": {Binary(b"1"), Binary(b"2")},
    }
    t.put_item(Item=item)
    got = t.get_item(Key={"pk": "py-types"}, ConsistentRead=True)["Item"]
    eq(got["n"], Decimal("1.5"), "Decimal 1.50")
    eq(str(got["n"]), "1.5", "str of normalised N")
    eq(got["i"], Decimal(42), "int")
    eq(got["b"], Binary(b"\xde\xad\xbe\xef"), "Binary")
    eq(got["yes"], True, "BOOL")
    expect(got["none"] is None, f"NULL came back as {got['none']!r}")
    eq(got["m"], {"a": [Decimal(1), "x", {"deep": Decimal("0.25")}], "empty": {}}, "nested M/L")
    eq(got["ss"], {"p", "q"}, "SS")
    eq(got["ns"], {Decimal("1.1"), Decimal(2)}, "NS")
    eq(got["bs"], {Binary(b"1"), Binary(b"2")}, "BS")


@check
def empty_string_and_binary_non_key_attributes():
    # Allowed for non-key attributes since 2020.
    name = table("items")
    ddb.put_item(TableName=name, Item={"pk": {"S": "empties"}, "es": {"S": ""}, "eb": {"B": b""}})
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "empties"}})["Item"]
    eq(got["es"], {"S": ""}, "empty S")
    eq(got["eb"], {"B": b""}, "empty B")


@check
def get_item_projection_and_missing_item():
    name = table("items")
    got = ddb.get_item(
        TableName=name,
        Key={"pk": {"S": "all-types"}},
        ProjectionExpression="#n, m.child, l[1], ss",
        ExpressionAttributeNames={"#n": "n"},
        ConsistentRead=True,
    )["Item"]
    eq(set(got), {"n", "m", "l", "ss"}, "projected attributes")
    eq(got["n"], {"N": "1.5"}, "projected n")
    eq(got["m"], {"M": {"child": {"S": "x"}}}, "projected m.child")
    eq(got["l"], {"L": [{"N": "2"}]}, "projected l[1]")
    r = ddb.get_item(TableName=name, Key={"pk": {"S": "no-such-item"}}, ConsistentRead=True)
    expect("Item" not in r, f"GetItem of a missing key returned {r.get('Item')!r}")


@check
def delete_item_return_all_old():
    name = table("items")
    ddb.put_item(TableName=name, Item={"pk": {"S": "del"}, "v": {"N": "1"}})
    r = ddb.delete_item(TableName=name, Key={"pk": {"S": "del"}}, ReturnValues="ALL_OLD")
    eq(r.get("Attributes"), {"pk": {"S": "del"}, "v": {"N": "1"}}, "ALL_OLD")
    expect("Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "del"}}), "item still there")
    r = ddb.delete_item(TableName=name, Key={"pk": {"S": "del"}}, ReturnValues="ALL_OLD")
    expect("Attributes" not in r, "deleting a missing item returned Attributes")


@check
def put_item_return_all_old():
    name = table("items")
    ddb.put_item(TableName=name, Item={"pk": {"S": "put-old"}, "v": {"S": "one"}})
    r = ddb.put_item(TableName=name, Item={"pk": {"S": "put-old"}, "v": {"S": "two"}},
                     ReturnValues="ALL_OLD")
    eq(r.get("Attributes"), {"pk": {"S": "put-old"}, "v": {"S": "one"}}, "PutItem ALL_OLD")


@check
def update_item_set_remove_all_new():
    name = table("items")
    ddb.put_item(TableName=name, Item={"pk": {"S": "upd"}, "a": {"N": "1"}, "c": {"S": "gone"},
                                       "keep": {"BOOL": True}})
    r = ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "upd"}},
        UpdateExpression="SET a = :v, b = :w REMOVE c",
        ExpressionAttributeValues={":v": {"N": "2"}, ":w": {"L": [{"S": "x"}]}},
        ReturnValues="ALL_NEW",
    )
    eq(r.get("Attributes"), {"pk": {"S": "upd"}, "a": {"N": "2"}, "b": {"L": [{"S": "x"}]},
                             "keep": {"BOOL": True}}, "ALL_NEW")
    # arithmetic, list_append, if_not_exists, ADD, UPDATED_OLD/UPDATED_NEW
    r = ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "upd"}},
        UpdateExpression="SET a = a + :one, b = list_append(b, :more), "
                         "d = if_not_exists(d, :zero) ADD cnt :one",
        ExpressionAttributeValues={":one": {"N": "1"}, ":more": {"L": [{"S": "y"}]},
                                   ":zero": {"N": "0"}},
        ReturnValues="UPDATED_NEW",
    )
    eq(r.get("Attributes"), {"a": {"N": "3"}, "b": {"L": [{"S": "x"}, {"S": "y"}]},
                             "d": {"N": "0"}, "cnt": {"N": "1"}}, "UPDATED_NEW")


@check
def update_item_creates_missing_item():
    t = res.Table(table("items"))
    r = t.update_item(Key={"pk": "upsert"}, UpdateExpression="SET #v = :v",
                      ExpressionAttributeNames={"#v": "value"},
                      ExpressionAttributeValues={":v": Decimal("3.14")}, ReturnValues="ALL_NEW")
    eq(r["Attributes"], {"pk": "upsert", "value": Decimal("3.14")}, "upsert ALL_NEW")


@check
def conditional_put_fails_with_conditional_check_failed():
    name = table("items")
    ddb.put_item(TableName=name, Item={"pk": {"S": "cond"}})
    expect_error("ConditionalCheckFailedException", raw.put_item, TableName=name,
                 Item={"pk": {"S": "cond"}}, ConditionExpression="attribute_not_exists(pk)")


SORT_KEYS = [25, -2, 3, 0, -10]


@check
def query_numeric_sort_order_and_conditions():
    t = res.Table(table("sorted"))
    for n in SORT_KEYS:
        t.put_item(Item={"pk": "q", "sk": Decimal(n), "v": f"v{n}"})
    t.put_item(Item={"pk": "other", "sk": 1})

    def sks(**kw):
        r = t.query(**kw)
        return [int(i["sk"]) for i in r["Items"]]

    pk = Key("pk").eq("q")
    eq(sks(KeyConditionExpression=pk), [-10, -2, 0, 3, 25], "numeric ascending order")
    eq(sks(KeyConditionExpression=pk, ScanIndexForward=False), [25, 3, 0, -2, -10],
       "ScanIndexForward=False")
    eq(sks(KeyConditionExpression=pk & Key("sk").eq(0)), [0], "sk = 0")
    eq(sks(KeyConditionExpression=pk & Key("sk").lt(0)), [-10, -2], "sk < 0")
    eq(sks(KeyConditionExpression=pk & Key("sk").lte(0)), [-10, -2, 0], "sk <= 0")
    eq(sks(KeyConditionExpression=pk & Key("sk").gt(0)), [3, 25], "sk > 0")
    eq(sks(KeyConditionExpression=pk & Key("sk").gte(3)), [3, 25], "sk >= 3")
    eq(sks(KeyConditionExpression=pk & Key("sk").between(-2, 3)), [-2, 0, 3], "sk BETWEEN -2 AND 3")
    # low-level client, explicit expression string
    r = ddb.query(TableName=table("sorted"),
                  KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
                  ExpressionAttributeValues={":p": {"S": "q"}, ":lo": {"N": "-10"},
                                             ":hi": {"N": "-2.5"}},
                  ConsistentRead=True)
    eq([i["sk"]["N"] for i in r["Items"]], ["-10"], "BETWEEN -10 AND -2.5")
    eq(r["Count"], 1, "Count")
    eq(r["ScannedCount"], 1, "ScannedCount")


@check
def query_begins_with_on_string_sort_key():
    name = table("str")
    for sk in ["a", "ab", "abc", "abd", "b", "B", "aa"]:
        ddb.put_item(TableName=name, Item={"pk": {"S": "bw"}, "sk": {"S": sk}})
    r = ddb.query(TableName=name, KeyConditionExpression="pk = :p AND begins_with(sk, :pre)",
                  ExpressionAttributeValues={":p": {"S": "bw"}, ":pre": {"S": "ab"}})
    eq([i["sk"]["S"] for i in r["Items"]], ["ab", "abc", "abd"], "begins_with(sk, 'ab')")
    r = ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "bw"}})
    # UTF-8 byte order: "B" (0x42) sorts before "a" (0x61)
    eq([i["sk"]["S"] for i in r["Items"]], ["B", "a", "aa", "ab", "abc", "abd", "b"],
       "string sort key byte order")


@check
def query_limit_paging_and_select_count():
    t = res.Table(table("sorted"))
    pages, items, kw = [], [], {"KeyConditionExpression": Key("pk").eq("q"), "Limit": 2}
    while True:
        r = t.query(**kw)
        pages.append(r)
        items.extend(r["Items"])
        expect(len(r["Items"]) <= 2, f"page of {len(r['Items'])} items with Limit=2")
        if "LastEvaluatedKey" not in r:
            break
        eq(set(r["LastEvaluatedKey"]), {"pk", "sk"}, "LastEvaluatedKey attributes")
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
        expect(len(pages) < 20, "Query paging does not terminate")
    eq([int(i["sk"]) for i in items], [-10, -2, 0, 3, 25], "items across pages")
    expect(len(pages) >= 3, f"only {len(pages)} pages for 5 items with Limit=2")
    eq(pages[0]["LastEvaluatedKey"], {"pk": "q", "sk": Decimal(-2)}, "first LastEvaluatedKey")
    r = t.query(KeyConditionExpression=Key("pk").eq("q"), Select="COUNT")
    eq(r["Count"], 5, "Select COUNT Count")
    expect("Items" not in r, "Select COUNT returned Items")
    r = t.query(KeyConditionExpression=Key("pk").eq("q") & Key("sk").gt(0), Select="COUNT")
    eq(r["Count"], 2, "Select COUNT with sort key condition")


@check
def query_over_1mb_is_paged():
    name = table("str")
    blob = "x" * (100 * 1024)
    for i in range(12):
        item = {"pk": {"S": "big"}, "sk": {"S": f"{i:03d}"}, "blob": {"S": blob}}
        # 1.2 MB into one partition key is more than its 1,000 write units a second
        # (DynamoDB's per-partition ceiling, which Eddy enforces), so a throttled put
        # waits and goes again, as an SDK's retries would with more attempts.
        for attempt in range(50):
            try:
                ddb.put_item(TableName=name, Item=item)
                break
            except ClientError as e:
                if e.response["Error"]["Code"] != "ThrottlingException" or attempt == 49:
                    raise
                time.sleep(0.1)
    first = ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "big"}})
    expect(first["Count"] < 12, f"first page of a 1.2 MB query returned all {first['Count']} items")
    expect(first["Count"] >= 8, f"first page has only {first['Count']} items (1 MB limit)")
    expect("LastEvaluatedKey" in first, "no LastEvaluatedKey on a truncated page")
    _, items = page_all(ddb.query, "LastEvaluatedKey", "ExclusiveStartKey", TableName=name,
                        KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": "big"}})
    eq([i["sk"]["S"] for i in items], [f"{i:03d}" for i in range(12)], "all 12 items across pages")
    expect(all(len(i["blob"]["S"]) == len(blob) for i in items), "blob content mismatch")


@check
def batch_write_item_25_puts_then_25_deletes():
    name = table("bulk")
    puts = [{"PutRequest": {"Item": {"pk": {"S": f"bw-{i:02d}"}, "n": {"N": str(i)}}}}
            for i in range(25)]
    r = ddb.batch_write_item(RequestItems={name: puts})
    for _ in range(10):
        if not r.get("UnprocessedItems"):
            break
        r = ddb.batch_write_item(RequestItems=r["UnprocessedItems"])
    eq(r.get("UnprocessedItems", {}), {}, "UnprocessedItems")
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "bw-24"}})["Item"]
    eq(got["n"], {"N": "24"}, "item written by BatchWriteItem")
    dels = [{"DeleteRequest": {"Key": {"pk": {"S": f"bw-{i:02d}"}}}} for i in range(25)]
    r = ddb.batch_write_item(RequestItems={name: dels})
    eq(r.get("UnprocessedItems", {}), {}, "UnprocessedItems")
    _, items = page_all(ddb.scan, "LastEvaluatedKey", "ExclusiveStartKey", TableName=name,
                        ScanFilter={"pk": {"AttributeValueList": [{"S": "bw-"}],
                                           "ComparisonOperator": "BEGINS_WITH"}})
    eq(items, [], "items left after 25 DeleteRequests")


BULK_N = 130


@check
def batch_writer_resource_api():
    t = res.Table(table("bulk"))
    with t.batch_writer() as w:
        for i in range(BULK_N):
            w.put_item(Item={"pk": f"item-{i:04d}", "i": i, "pad": "p" * (i % 7)})
    r = t.scan(Select="COUNT")
    count = r["Count"]
    while "LastEvaluatedKey" in r:
        r = t.scan(Select="COUNT", ExclusiveStartKey=r["LastEvaluatedKey"])
        count += r["Count"]
    eq(count, BULK_N, "items after batch_writer")


@check
def batch_get_item_100_keys():
    name = table("bulk")
    keys = [{"pk": {"S": f"item-{i:04d}"}} for i in range(100)]
    keys[99] = {"pk": {"S": "item-missing"}}  # a missing key is simply absent
    request = {name: {"Keys": keys, "ProjectionExpression": "pk, i"}}
    found = []
    for _ in range(20):
        r = ddb.batch_get_item(RequestItems=request)
        found.extend(r["Responses"].get(name, []))
        request = r.get("UnprocessedKeys") or {}
        if not request:
            break
    eq(len(found), 99, "items returned for 99 existing + 1 missing key")
    eq(sorted(int(i["i"]["N"]) for i in found), list(range(99)), "values")
    eq(set(found[0]), {"pk", "i"}, "projected attributes")


@check
def transact_write_items_all_or_nothing():
    name = table("items")
    tot, led = {"pk": {"S": "tx-total"}}, {"pk": {"S": "tx-ledger-1"}}
    add = {"Update": {"TableName": name, "Key": tot, "UpdateExpression": "ADD amount :a",
                      "ExpressionAttributeValues": {":a": {"N": "5"}}}}
    entry = {"Put": {"TableName": name, "Item": {**led, "amount": {"N": "5"}},
                     "ConditionExpression": "attribute_not_exists(pk)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}
    ddb.transact_write_items(TransactItems=[add, entry], ClientRequestToken="smoke-tx-1")
    # The same token and request again is a no-op, not a second increment.
    ddb.transact_write_items(TransactItems=[add, entry], ClientRequestToken="smoke-tx-1")
    eq(ddb.get_item(TableName=name, Key=tot)["Item"]["amount"], {"N": "5"}, "aggregate after retry")
    e = expect_error("TransactionCanceledException", raw.transact_write_items, TransactItems=[add, entry])
    eq(e.response["Error"]["Message"],
       "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
       "TransactionCanceledException message")
    reasons = e.response.get("CancellationReasons")
    eq(reasons, [{"Code": "None"},
                 {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
                  "Item": {**led, "amount": {"N": "5"}}}], "CancellationReasons")
    eq(ddb.get_item(TableName=name, Key=tot)["Item"]["amount"], {"N": "5"}, "aggregate after cancel")


@check
def transact_get_items_in_order():
    name = table("items")
    ddb.put_item(TableName=name, Item={"pk": {"S": "tx-get"}, "a": {"S": "x"}, "b": {"N": "2"}})
    r = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": name, "Key": {"pk": {"S": "tx-missing"}}}},
        {"Get": {"TableName": name, "Key": {"pk": {"S": "tx-get"}}, "ProjectionExpression": "b"}},
    ])
    eq(r["Responses"], [{}, {"Item": {"b": {"N": "2"}}}], "TransactGetItems Responses")


@check
def error_transact_write_two_actions_on_one_item():
    name = table("items")
    e = expect_error("ValidationException", raw.transact_write_items, TransactItems=[
        {"Put": {"TableName": name, "Item": {"pk": {"S": "tx-dup"}}}},
        {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "tx-dup"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}},
    ])
    eq(e.response["Error"]["Message"], "Transaction request cannot include multiple operations on one item",
       "ValidationException message")
    expect("Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "tx-dup"}}), "tx-dup was written")


@check
def scan_limit_paging():
    name = table("bulk")
    pages, items = page_all(ddb.scan, "LastEvaluatedKey", "ExclusiveStartKey",
                            TableName=name, Limit=17)
    expect(all(len(p["Items"]) <= 17 for p in pages), "a Scan page exceeded Limit=17")
    expect(len(pages) >= BULK_N // 17, f"only {len(pages)} pages")
    keys = [i["pk"]["S"] for i in items]
    eq(len(keys), len(set(keys)), "duplicates across Scan pages")
    eq(set(keys), {f"item-{i:04d}" for i in range(BULK_N)}, "scanned keys")
    eq(sum(p["ScannedCount"] for p in pages), BULK_N, "sum of ScannedCount")


@check
def scan_parallel_segments():
    name = table("bulk")
    seen, total_segments = [], 4
    per_segment = []
    for seg in range(total_segments):
        _, items = page_all(ddb.scan, "LastEvaluatedKey", "ExclusiveStartKey", TableName=name,
                            Segment=seg, TotalSegments=total_segments, Limit=50)
        per_segment.append(len(items))
        seen.extend(i["pk"]["S"] for i in items)
    eq(len(seen), len(set(seen)), "an item appeared in two segments")
    eq(set(seen), {f"item-{i:04d}" for i in range(BULK_N)}, "union of segments")
    expect(sum(1 for n in per_segment if n) >= 2,
           f"all items in one segment {per_segment} (not a partitioned scan)")


@check
def scan_with_filter_expression():
    t = res.Table(table("bulk"))
    _, items = page_all(t.scan, "LastEvaluatedKey", "ExclusiveStartKey",
                        FilterExpression=Attr("i").lt(10))
    eq(sorted(int(i["i"]) for i in items), list(range(10)), "FilterExpression i < 10")


# ===========================================================================
# errors
# ===========================================================================


@check
def error_missing_table():
    missing = tname("does-not-exist")
    expect_error("ResourceNotFoundException", raw.get_item, TableName=missing,
                 Key={"pk": {"S": "x"}})
    expect_error("ResourceNotFoundException", raw.describe_table, TableName=missing)
    expect_error("ResourceNotFoundException", raw.delete_table, TableName=missing)


@check
def error_create_existing_table():
    expect_error("ResourceInUseException", raw.create_table, TableName=table("items"),
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                 BillingMode="PAY_PER_REQUEST")


@check
def error_missing_key_attribute():
    expect_error("ValidationException", raw.put_item, TableName=table("items"),
                 Item={"other": {"S": "x"}})
    expect_error("ValidationException", raw.get_item, TableName=table("sorted"),
                 Key={"pk": {"S": "q"}})  # range key missing


@check
def error_wrong_key_type():
    expect_error("ValidationException", raw.put_item, TableName=table("items"),
                 Item={"pk": {"N": "1"}})
    expect_error("ValidationException", raw.get_item, TableName=table("items"),
                 Key={"pk": {"B": b"x"}})


@check
def error_empty_string_set():
    expect_error("ValidationException", raw.put_item, TableName=table("items"),
                 Item={"pk": {"S": "empty-set"}, "ss": {"SS": []}})


@check
def error_empty_string_key():
    expect_error("ValidationException", raw.put_item, TableName=table("items"),
                 Item={"pk": {"S": ""}})


@check
def error_item_over_400kb():
    e = expect_error("ValidationException", raw.put_item, TableName=table("items"),
                     Item={"pk": {"S": "huge"}, "blob": {"S": "x" * (401 * 1024)}})
    expect("size" in e.response["Error"]["Message"].lower(),
           f"message does not mention size: {e.response['Error']['Message']!r}")


@check
def error_batch_write_duplicate_keys():
    name = table("bulk")
    expect_error("ValidationException", raw.batch_write_item, RequestItems={name: [
        {"PutRequest": {"Item": {"pk": {"S": "dup"}, "v": {"N": "1"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": "dup"}}}},
    ]})


@check
def error_batch_write_26_requests():
    name = table("bulk")
    expect_error("ValidationException", raw.batch_write_item, RequestItems={name: [
        {"PutRequest": {"Item": {"pk": {"S": f"many-{i}"}}}} for i in range(26)]})


@check
def error_batch_get_101_keys():
    name = table("bulk")
    expect_error("ValidationException", raw.batch_get_item, RequestItems={
        name: {"Keys": [{"pk": {"S": f"item-{i:04d}"}} for i in range(101)]}})


@check
def error_invalid_table_name():
    expect_error("ValidationException", raw.create_table, TableName="a",
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                 BillingMode="PAY_PER_REQUEST")
    expect_error("ValidationException", raw.describe_table, TableName="bad name!")


@check
def error_malformed_json():
    status, headers, body = signed_post("DynamoDB_20120810.ListTables", b'{"Limit": 1, ')
    eq(status, 400, "HTTP status")
    doc = json.loads(body)
    expect(doc.get("__type", "").endswith("#SerializationException"),
           f"__type {doc.get('__type')!r} (body {body[:200]!r})")


@check
def error_unknown_operation():
    status, headers, body = signed_post("DynamoDB_20120810.NoSuchOperation", b"{}")
    eq(status, 400, "HTTP status")
    doc = json.loads(body)
    expect(doc.get("__type", "").endswith("UnknownOperationException"),
           f"__type {doc.get('__type')!r} (body {body[:200]!r})")


@check
def health_get_root():
    with urllib.request.urlopen(ENDPOINT + "/", timeout=10) as r:
        eq(r.status, 200, "GET / status")
        body = r.read().decode("utf-8", "replace")
    expect(body.startswith("healthy:"), f"GET / body {body[:100]!r} does not start with 'healthy:'")


@check
def response_headers_request_id_and_crc32():
    status, headers, body = signed_post("DynamoDB_20120810.ListTables", b'{"Limit": 1}')
    eq(status, 200, "ListTables status")
    expect(headers.get("x-amzn-RequestId"), "no x-amzn-RequestId header")
    crc = headers.get("x-amz-crc32")
    if crc is not None:  # optional, but when present the SDKs verify it
        eq(int(crc), zlib.crc32(body) & 0xFFFFFFFF, "x-amz-crc32")
    expect(headers.get("Content-Type", "").startswith("application/x-amz-json-1.0"),
           f"Content-Type {headers.get('Content-Type')!r}")


# ===========================================================================
# aws CLI
# ===========================================================================


@check
def cli_create_wait_describe_list():
    name = tname("cli")
    r = aws("create-table", "--table-name", name,
            "--attribute-definitions", "AttributeName=pk,AttributeType=S",
            "AttributeName=sk,AttributeType=N",
            "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
            "--billing-mode", "PAY_PER_REQUEST")
    CREATED.append(name)
    eq(r["TableDescription"]["TableName"], name, "create-table TableName")
    aws("wait", "table-exists", "--table-name", name)
    T["cli"] = name
    d = aws("describe-table", "--table-name", name)["Table"]
    eq(d["TableStatus"], "ACTIVE", "describe-table TableStatus")
    eq(d["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"}], "describe-table KeySchema")
    names = aws("list-tables")["TableNames"]  # the CLI pages through everything itself
    expect(name in names, f"{name} not in list-tables")
    names = aws("list-tables", "--page-size", "1")["TableNames"]
    expect(name in names and table("items") in names, "list-tables --page-size 1 lost tables")


@check
def cli_put_get_query_scan():
    name = table("cli")
    # aws CLI v1 takes a B value in --item as raw text and prints it base64-encoded
    # (v2 would take base64 input by default: --cli-binary-format).
    for sk in (3, 1, 2):
        item = {"pk": {"S": "c"}, "sk": {"N": str(sk)}, "txt": {"S": f"t{sk}"},
                "bin": {"B": "hi!"}, "num": {"N": "2.50"}}
        aws("put-item", "--table-name", name, "--item", json.dumps(item))
    got = aws("get-item", "--table-name", name,
              "--key", json.dumps({"pk": {"S": "c"}, "sk": {"N": "2"}}))["Item"]
    eq(got["txt"], {"S": "t2"}, "get-item txt")
    eq(got["num"], {"N": "2.5"}, "get-item N normalised")
    eq(got["bin"], {"B": base64.b64encode(b"hi!").decode()}, "get-item B (base64)")
    q = aws("query", "--table-name", name, "--key-condition-expression", "pk = :p AND sk >= :lo",
            "--expression-attribute-values", json.dumps({":p": {"S": "c"}, ":lo": {"N": "2"}}))
    eq([i["sk"]["N"] for i in q["Items"]], ["2", "3"], "query items")
    eq(q["Count"], 2, "query Count")
    s = aws("scan", "--table-name", name)
    eq(sorted(i["sk"]["N"] for i in s["Items"]), ["1", "2", "3"], "scan items")
    eq(s["Count"], 3, "scan Count")
    missing = aws("get-item", "--table-name", name,
                  "--key", json.dumps({"pk": {"S": "nope"}, "sk": {"N": "0"}}))
    expect(not missing or "Item" not in missing, "get-item of a missing key returned an Item")


@check
def cli_error_exit_code():
    cmd = [aws_cli_path(), "dynamodb", "describe-table", "--table-name", tname("nope"),
           "--endpoint-url", ENDPOINT, "--region", REGION, "--output", "json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    expect(p.returncode != 0, "describe-table of a missing table exited 0")
    expect("ResourceNotFoundException" in p.stderr, f"stderr: {p.stderr.strip()[-300:]}")


@check
def cli_delete_table():
    name = table("cli")
    r = aws("delete-table", "--table-name", name)
    eq(r["TableDescription"]["TableName"], name, "delete-table TableName")
    aws("wait", "table-not-exists", "--table-name", name)
    names = aws("list-tables")["TableNames"]
    expect(name not in names, f"{name} still listed after delete-table")


# ===========================================================================
# cleanup of the boto3 tables, checked (the final cleanup() is best effort)
# ===========================================================================


@check
def delete_tables_and_wait():
    for role in ("items", "sorted", "str", "bulk", "ctl", "ttl", "indexes"):
        if role not in T:
            continue
        name = T.pop(role)
        r = ddb.delete_table(TableName=name)
        eq(r["TableDescription"]["TableName"], name, "DeleteTable TableName")
        CREATED.remove(name)
    for name in [tname(r) for r in ("items", "sorted", "str", "bulk", "ctl", "ttl", "indexes")]:
        ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig=WAIT)
    names = ddb.list_tables(ExclusiveStartTableName=PREFIX, Limit=100)["TableNames"]
    left = [n for n in names if n.startswith(PREFIX)]
    eq(left, [], "tables of this run still listed")


if __name__ == "__main__":
    sys.exit(run_all())
