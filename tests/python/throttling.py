#!/usr/bin/env python3
"""Provisioned throughput enforced, seen through boto3, against a server started with
`--capacity-clock manual` (the test moves the clock with POST /v1/capacity/clock).

Usage:
    python tests/python/throttling.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as expressions.py: one line per check, then "N passed, M failed"; the
exit code is 0 only if every check passed. It asserts what DynamoDB answers (error
codes and exact messages). Tables are named "thr-<random>-<role>" and deleted at the
end (best effort).
"""

import json
import sys
import urllib.request

import boto3
from botocore.exceptions import ClientError
from checks import CheckFailed, check, eq, expect, standalone
from checks import run as run_checks

S = standalone(__doc__, "thr")
ENDPOINT, FILTERS, REGION, DEADLINE, PREFIX = S.endpoint, S.filters, S.region, S.deadline, S.prefix
SESSION, CONFIG, ddb = S.session, S.config, S.ddb

TABLE_MESSAGE = ("The level of configured provisioned throughput for the table was exceeded. "
                 "Consider increasing your provisioning level with the UpdateTable API.")
CREATED = []


def advance(ms):
    req = urllib.request.Request(f"{ENDPOINT}/v1/capacity/clock", data=json.dumps({"advance_ms": ms}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        eq(r.status, 200, "clock moved")


def expect_error(code, message, fn, *args, **kwargs):
    """Call fn, which must fail with a 400 ClientError of `code` and exactly `message`."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        eq(err.get("Code"), code, "error code")
        eq(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), 400, "HTTP status")
        eq(err.get("Message"), message, "error message")
        return e
    raise CheckFailed(f"expected {code}, but the call succeeded")


def create_table(role, read, write, **extra):
    name = f"{PREFIX}-{role}"
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if "GlobalSecondaryIndexes" in extra:
        attrs.append({"AttributeName": "g", "AttributeType": "S"})
    ddb.create_table(TableName=name, AttributeDefinitions=attrs,
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     ProvisionedThroughput={"ReadCapacityUnits": read, "WriteCapacityUnits": write}, **extra)
    CREATED.append(name)
    return name


def delete_created_tables():
    for name in CREATED:
        try:
            ddb.delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - best effort
            pass


def put(table, pk):
    return ddb.put_item(TableName=table, Item={"pk": {"S": pk}})


@check
def a_provisioned_table_throttles_and_refills():
    t = create_table("put", 1, 2)
    put(t, "a")
    put(t, "b")
    e = expect_error("ProvisionedThroughputExceededException", TABLE_MESSAGE, put, t, "c")
    expect(ddb.exceptions.ProvisionedThroughputExceededException is not None, "modelled exception")
    reasons = e.response.get("ThrottlingReasons")
    eq([r["reason"] for r in reasons], ["TableWriteProvisionedThroughputExceeded"], "throttling reasons")
    advance(1000)
    put(t, "c")


@check
def batch_write_leaves_throttled_items_unprocessed():
    t = create_table("batch", 1, 2)
    requests = [{"PutRequest": {"Item": {"pk": {"S": k}}}} for k in ("a", "b", "c", "d")]
    out = ddb.batch_write_item(RequestItems={t: requests})
    eq(out["UnprocessedItems"], {t: requests[2:]}, "the throttled requests, as sent")
    advance(1000)
    out = ddb.batch_write_item(RequestItems=out["UnprocessedItems"])
    eq(out["UnprocessedItems"], {}, "all in after a second")
    eq(ddb.scan(TableName=t)["Count"], 4, "every item written once")


@check
def batch_execute_statement_reports_throttled_statements():
    t = create_table("partiql", 1, 2)
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": f"INSERT INTO \"{t}\" VALUE {{'pk': '{k}'}}"} for k in ("a", "b", "c")
    ])["Responses"]
    eq([r.get("Error", {}).get("Code") for r in out], [None, None, "ProvisionedThroughputExceeded"],
       "the third statement is throttled")
    eq(out[2]["Error"]["Message"], TABLE_MESSAGE, "its message")


@check
def describe_table_reports_decreases_and_warm_throughput():
    gsi = {"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
           "Projection": {"ProjectionType": "KEYS_ONLY"},
           "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}
    t = create_table("describe", 5, 5, GlobalSecondaryIndexes=[gsi])
    ddb.update_table(TableName=t, ProvisionedThroughput={"ReadCapacityUnits": 4, "WriteCapacityUnits": 6})
    desc = ddb.describe_table(TableName=t)["Table"]
    pt = desc["ProvisionedThroughput"]
    eq(pt["NumberOfDecreasesToday"], 1, "NumberOfDecreasesToday")
    expect("LastIncreaseDateTime" in pt and "LastDecreaseDateTime" in pt, "both dates reported")
    # A provisioned table's warm throughput is the highest it was provisioned with
    # (DynamoDB was measured so: ack-api-quirks), its index's its own units.
    eq(desc["WarmThroughput"], {"ReadUnitsPerSecond": 5, "WriteUnitsPerSecond": 6, "Status": "ACTIVE"},
       "WarmThroughput")
    eq(desc["GlobalSecondaryIndexes"][0]["WarmThroughput"],
       {"ReadUnitsPerSecond": 1, "WriteUnitsPerSecond": 1, "Status": "ACTIVE"}, "the index's WarmThroughput")



@check
def an_on_demand_index_maximum_throttles_the_tables_writes():
    name = f"{PREFIX}-gmax"
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"},
                                 "OnDemandThroughput": {"MaxWriteRequestUnits": 1}}])
    CREATED.append(name)
    index = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    eq(index["OnDemandThroughput"], {"MaxWriteRequestUnits": 1}, "the index's maximum")
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "g": {"S": "x"}})
    e = expect_error("ThrottlingException",
                     "Throughput exceeds the maximum OnDemandThroughput configured on table or index",
                     ddb.put_item, TableName=name, Item={"pk": {"S": "b"}, "g": {"S": "x"}})
    reasons = e.response.get("throttlingReasons") or []
    eq([r["reason"] for r in reasons], ["IndexWriteMaxOnDemandThroughputExceeded"], "throttling reasons")
    expect(reasons[0]["resource"].endswith(f":table/{name}/index/by_g"), "the index's ARN")
    advance(1000)
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "g": {"S": "x"}})


if __name__ == "__main__":
    sys.exit(run_checks(f"Throttling checks against {ENDPOINT} (tables {PREFIX}-*)", FILTERS, DEADLINE,
                        delete_created_tables))
