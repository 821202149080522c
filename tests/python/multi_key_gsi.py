#!/usr/bin/env python3
"""Global secondary indexes with multi-attribute keys (DynamoDB, November 2025)
through boto3: up to four HASH and four RANGE attributes in a GSI's KeySchema.

Usage:
    python tests/python/multi_key_gsi.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as smoke.py: the Rust integration test (tests/e2e/python.rs)
starts Eddy on an ephemeral port and runs this with the venv made by
./tests/run.sh. The query rules checked are DynamoDB's (every HASH attribute
with `=`, RANGE attributes left to right, only the last one a range condition;
an item missing any key attribute is not indexed), as moto's tests recorded
them against DynamoDB. botocore checks only member types here, not the number
of KeySchema elements, so the requests reach the server as an SDK sends them.

Output: one line per check, then "N passed, M failed"; exit code 0 only if
every check passed.
"""

import os
import sys
import time
import uuid

import boto3
from boto3.dynamodb.conditions import Key
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
PREFIX = f"mgsi-{uuid.uuid4().hex[:8]}"

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)

BASE = Config(connect_timeout=5, read_timeout=60, retries={"total_max_attempts": 1})
ddb = boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name=REGION, config=BASE)
res = boto3.resource("dynamodb", endpoint_url=ENDPOINT, region_name=REGION, config=BASE)

TABLE = f"{PREFIX}-matches"
INDEX = "by_match"
CREATED = []


def expect_validation(fn, message, **kwargs):
    """fn must fail with a ValidationException of exactly `message`."""
    try:
        fn(**kwargs)
    except ClientError as e:
        err = e.response["Error"]
        eq(err["Code"], "ValidationException", "error code")
        eq(err["Message"], message, "error message")
        return
    raise CheckFailed(f"expected a ValidationException {message!r}, but the call succeeded")


def delete_created_tables():
    for name in CREATED:
        try:
            ddb.delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - best effort
            pass


def query(cond, values, **kwargs):
    return ddb.query(
        TableName=TABLE,
        IndexName=INDEX,
        KeyConditionExpression=cond,
        ExpressionAttributeValues=values,
        **kwargs,
    )


def ids(items):
    return [i["pk"]["S"] for i in items]


@check(always=True)
def create_table_with_a_multi_attribute_gsi():
    attrs = [("pk", "S"), ("tid", "S"), ("div", "S"), ("rnd", "N"), ("grp", "S"), ("num", "N")]
    ddb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attrs],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [
                    {"AttributeName": "tid", "KeyType": "HASH"},
                    {"AttributeName": "div", "KeyType": "HASH"},
                    {"AttributeName": "rnd", "KeyType": "RANGE"},
                    {"AttributeName": "grp", "KeyType": "RANGE"},
                    {"AttributeName": "num", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    CREATED.append(TABLE)
    ddb.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    gsi = ddb.describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"][0]
    eq(
        [(k["AttributeName"], k["KeyType"]) for k in gsi["KeySchema"]],
        [("tid", "HASH"), ("div", "HASH"), ("rnd", "RANGE"), ("grp", "RANGE"), ("num", "RANGE")],
        "KeySchema as DescribeTable lists it",
    )
    table = res.Table(TABLE)
    rows = [
        ("m1", 1, "a", 1),
        ("m2", 1, "a", 2),
        ("m3", 2, "b", 1),
        ("m4", 2, "a", 5),
        ("m5", 1, "b", 3),
    ]
    with table.batch_writer() as w:
        for pk, rnd, grp, num in rows:
            w.put_item(Item={"pk": pk, "tid": "t1", "div": "d1", "rnd": rnd, "grp": grp, "num": num})
        # Sparse: each lacks one key attribute, so none is in the index.
        w.put_item(Item={"pk": "s1", "tid": "t1", "rnd": 1, "grp": "a", "num": 9})
        w.put_item(Item={"pk": "s2", "tid": "t1", "div": "d1", "rnd": 1, "grp": "a"})
        w.put_item(Item={"pk": "o1", "tid": "t1", "div": "d2", "rnd": 1, "grp": "a", "num": 1})


@check
def queries_take_every_hash_attribute_and_a_range_prefix():
    base = "tid = :t AND div = :d"
    v = {":t": {"S": "t1"}, ":d": {"S": "d1"}}
    eq(ids(query(base, v)["Items"]), ["m1", "m2", "m5", "m4", "m3"], "the partition in (rnd, grp, num) order")
    eq(ids(query(f"{base} AND rnd = :r", {**v, ":r": {"N": "1"}})["Items"]), ["m1", "m2", "m5"], "rnd = 1")
    got = query(f"{base} AND rnd = :r AND grp = :g AND num BETWEEN :lo AND :hi",
                {**v, ":r": {"N": "1"}, ":g": {"S": "a"}, ":lo": {"N": "2"}, ":hi": {"N": "5"}})
    eq(ids(got["Items"]), ["m2"], "BETWEEN on the last attribute given")
    got = query(f"{base} AND rnd = :r AND begins_with(grp, :g)", {**v, ":r": {"N": "2"}, ":g": {"S": "a"}})
    eq(ids(got["Items"]), ["m4"], "begins_with on the last attribute given")
    eq(ids(query(f"{base} AND rnd < :r", {**v, ":r": {"N": "2"}})["Items"]), ["m1", "m2", "m5"], "rnd < 2")
    # boto3's condition builder writes the same expression.
    items = res.Table(TABLE).query(
        IndexName=INDEX,
        KeyConditionExpression=Key("tid").eq("t1") & Key("div").eq("d1") & Key("rnd").eq(2),
    )["Items"]
    eq([i["pk"] for i in items], ["m4", "m3"], "boto3.dynamodb.conditions.Key")


@check
def paging_returns_every_key_attribute_in_last_evaluated_key():
    v = {":t": {"S": "t1"}, ":d": {"S": "d1"}}
    seen, start = [], None
    for _ in range(10):
        kw = {"ExclusiveStartKey": start} if start else {}
        page = query("tid = :t AND div = :d", v, Limit=2, **kw)
        seen += ids(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        eq(sorted(start), ["div", "grp", "num", "pk", "rnd", "tid"], "LastEvaluatedKey attributes")
    eq(seen, ["m1", "m2", "m5", "m4", "m3"], "pages together")


@check
def scan_of_the_index_skips_sparse_items():
    items = ddb.scan(TableName=TABLE, IndexName=INDEX)["Items"]
    eq(sorted(ids(items)), ["m1", "m2", "m3", "m4", "m5", "o1"], "indexed items")


@check
def invalid_queries_fail_as_dynamodb_does():
    v = {":t": {"S": "t1"}, ":d": {"S": "d1"}}
    expect_validation(lambda: query("tid = :t", {":t": {"S": "t1"}}),
                      "Query condition missed key schema element: div")
    expect_validation(lambda: query("tid = :t AND div = :d AND grp = :g", {**v, ":g": {"S": "a"}}),
                      "RANGE key attributes rnd must have equality conditions specified in the query "
                      "because a condition is present on key attribute grp")
    expect_validation(lambda: query("tid = :t AND div = :d AND rnd > :r AND grp = :g",
                                    {**v, ":r": {"N": "1"}, ":g": {"S": "a"}}),
                      "RANGE key attributes rnd must have equality conditions specified in the query "
                      "because a condition is present on key attribute grp")
    expect_validation(lambda: query("tid = :t AND div > :d", v), "Query key condition not supported")
    expect_validation(lambda: query("tid = :t AND div = :d", {**v, ":g": {"S": "a"}}, FilterExpression="grp = :g"),
                      "Filter Expression can only contain non-primary key attributes: Primary key attribute: grp")
    # The legacy KeyConditions work on a multi-attribute key as on any other.
    got = ddb.query(TableName=TABLE, IndexName=INDEX, KeyConditions={
        "tid": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "t1"}]},
        "div": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "d1"}]},
        "rnd": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "2"}]},
    })
    eq(ids(got["Items"]), ["m4", "m3"], "KeyConditions")


@check
def four_hash_and_four_range_attributes_of_mixed_types():
    name = f"{PREFIX}-max"
    hashes = [("h1", "S"), ("h2", "N"), ("h3", "B"), ("h4", "S")]
    ranges = [("r1", "N"), ("r2", "S"), ("r3", "B"), ("r4", "S")]
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in [("pk", "S")] + hashes + ranges],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "max",
            "KeySchema": [{"AttributeName": n, "KeyType": "HASH"} for n, _ in hashes]
            + [{"AttributeName": n, "KeyType": "RANGE"} for n, _ in ranges],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
        BillingMode="PAY_PER_REQUEST",
    )
    CREATED.append(name)
    eq(len(ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]["KeySchema"]), 8, "8 elements")
    table = res.Table(name)
    base = {"h1": "a", "h2": 7, "h3": b"\x00\x01", "h4": "z"}
    for pk, r1, r3 in [("k1", 10, b"\x01\x02"), ("k2", 10, b"\x01\xff"), ("k3", 9, b"\x02"), ("k4", 10, b"\x01")]:
        table.put_item(Item={"pk": pk, **base, "r1": r1, "r2": "m", "r3": r3, "r4": "q"})
    hash_cond = Key("h1").eq("a") & Key("h2").eq(7) & Key("h3").eq(b"\x00\x01") & Key("h4").eq("z")
    items = table.query(IndexName="max", KeyConditionExpression=hash_cond)["Items"]
    eq([i["pk"] for i in items], ["k3", "k4", "k1", "k2"], "ordered by (r1 numerically, r2, r3 bytewise, r4)")
    cond = hash_cond & Key("r1").eq(10) & Key("r2").eq("m") & Key("r3").begins_with(b"\x01")
    items = table.query(IndexName="max", KeyConditionExpression=cond)["Items"]
    eq([i["pk"] for i in items], ["k4", "k1", "k2"], "begins_with on a binary third RANGE attribute")
    eq(sorted(items[0]), ["h1", "h2", "h3", "h4", "pk", "r1", "r2", "r3", "r4"], "KEYS_ONLY carries every key")
    all_eight = hash_cond & Key("r1").eq(10) & Key("r2").eq("m") & Key("r3").eq(b"\x01\x02") & Key("r4").eq("q")
    eq([i["pk"] for i in table.query(IndexName="max", KeyConditionExpression=all_eight)["Items"]], ["k1"],
       "equality on all eight attributes")
    items = table.query(IndexName="max", KeyConditionExpression=Key("h1").eq("a") & Key("h2").eq(8)
                        & Key("h3").eq(b"\x00\x01") & Key("h4").eq("z"))["Items"]
    eq(items, [], "another partition")


@check
def gsi_definitions_are_checked():
    name = f"{PREFIX}-bad"
    base = dict(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "a", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    gsi = {"IndexName": "gsi", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"},
                                           {"AttributeName": "b", "KeyType": "HASH"}],
           "Projection": {"ProjectionType": "ALL"}}
    expect_validation(lambda: ddb.create_table(GlobalSecondaryIndexes=[gsi], **base),
                      "One or more parameter values were invalid: Some index key attributes are not defined "
                      "in AttributeDefinitions. Keys: [b], AttributeDefinitions: [pk, a]")
    long = "n" * 256
    gsi = {"IndexName": "gsi", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
           "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [long]}}
    expect_validation(lambda: ddb.create_table(GlobalSecondaryIndexes=[gsi], **base),
                      f"1 validation error detected: Value '[{long}]' at "
                      "'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' failed to satisfy "
                      "constraint: Member must satisfy constraint: [Member must have length less than or "
                      "equal to 255, Member must have length greater than or equal to 1]")
    try:
        ddb.describe_table(TableName=name)
    except ClientError as e:
        eq(e.response["Error"]["Code"], "ResourceNotFoundException", "no table was created")
    else:
        CREATED.append(name)
        raise CheckFailed("a refused CreateTable created the table")


if __name__ == "__main__":
    sys.exit(run_checks(f"multi-attribute GSI test against {ENDPOINT} (tables {PREFIX}-*)", FILTERS, DEADLINE,
                        delete_created_tables))
