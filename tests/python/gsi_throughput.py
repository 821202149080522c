#!/usr/bin/env python3
"""On-demand maximums (`OnDemandThroughput`) and warm throughput (`WarmThroughput`) of
global secondary indexes, and warm throughput as a table's input, seen through boto3,
against a server started with `--capacity-clock manual` (the test moves the clock with
POST /v1/capacity/clock, so nothing depends on the machine's speed).

Usage:
    python tests/python/gsi_throughput.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as throttling.py: one line per check, then "N passed, M failed"; the
exit code is 0 only if every check passed. It asserts what DynamoDB answers (error
codes and exact messages, as the engine's `throughput.rs` cites them). Tables are named
"gtp-<random>-<role>" and deleted at the end (best effort).
"""

import json
import sys
import urllib.request

from botocore.exceptions import ClientError
from checks import NO_VALIDATION, CheckFailed, check, eq, expect, standalone
from checks import run as run_checks

S = standalone(__doc__, "gtp")
ENDPOINT, FILTERS, DEADLINE, PREFIX = S.endpoint, S.filters, S.deadline, S.prefix
ddb = S.ddb
# The invalid values go through without boto3's own checks, so the server refuses them.
raw = S.session.client("dynamodb", endpoint_url=ENDPOINT, config=NO_VALIDATION)

MAXIMUM = "Throughput exceeds the maximum OnDemandThroughput configured on table or index"
INVALID = "One or more parameter values were invalid: "
INITIAL_URL = ("https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
               "on-demand-capacity-mode.html#on-demand-capacity-mode-initial")
CREATED = []
# DynamoDB's initial write throughput of an on-demand table, and BatchWriteItem's limit.
WARM_WRITES = 4000
BATCH_WRITE_ITEMS_MAX = 25


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


def by_g(**extra):
    """Global index `by_g` on the string attribute `g`, keys only, with `extra` members."""
    return {"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}, **extra}


def create(role, index=None, client=None, provisioned=False, **extra):
    """Creates table `<prefix>-<role>` keyed by `pk`, on demand (or provisioned at 5/5),
    with global index `index` if given; returns its name."""
    name = f"{PREFIX}-{role}"
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if index is not None:
        attrs.append({"AttributeName": "g", "AttributeType": "S"})
        extra["GlobalSecondaryIndexes"] = [index]
    if provisioned:
        extra["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    else:
        extra["BillingMode"] = "PAY_PER_REQUEST"
    (client or ddb).create_table(TableName=name, AttributeDefinitions=attrs,
                                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], **extra)
    CREATED.append(name)
    return name


def delete_created_tables():
    for name in CREATED:
        try:
            ddb.delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - best effort
            pass


def describe(table):
    return ddb.describe_table(TableName=table)["Table"]


def index_of(table, name="by_g"):
    return next(i for i in describe(table)["GlobalSecondaryIndexes"] if i["IndexName"] == name)


def update_index(table, client=None, **change):
    (client or ddb).update_table(TableName=table,
                                 GlobalSecondaryIndexUpdates=[{"Update": {"IndexName": "by_g", **change}}])


def put_g(table, pk):
    ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "g": {"S": "x"}})


def query_g(table):
    return ddb.query(TableName=table, IndexName="by_g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "x"}})


def throttled_by(e, reason, table):
    """`e` names `reason` for index by_g of `table` in its throttlingReasons."""
    reasons = e.response.get("throttlingReasons") or []
    eq([r.get("reason") for r in reasons], [reason], "throttling reasons")
    expect(reasons[0].get("resource", "").endswith(f":table/{table}/index/by_g"), "the index's ARN")


@check
def index_maximums_are_taken_changed_removed_and_described():
    t = create("desc", by_g(OnDemandThroughput={"MaxReadRequestUnits": 5, "MaxWriteRequestUnits": 6}))
    expect("OnDemandThroughput" not in describe(t), "the table has no maximum of its own")
    eq(index_of(t)["OnDemandThroughput"], {"MaxReadRequestUnits": 5, "MaxWriteRequestUnits": 6},
       "the index's maximums at CreateTable")
    update_index(t, OnDemandThroughput={"MaxReadRequestUnits": 7})
    eq(index_of(t)["OnDemandThroughput"], {"MaxReadRequestUnits": 7, "MaxWriteRequestUnits": 6},
       "a member not given keeps its maximum")
    update_index(t, OnDemandThroughput={"MaxWriteRequestUnits": -1})
    eq(index_of(t)["OnDemandThroughput"], {"MaxReadRequestUnits": 7}, "-1 removes a maximum")
    update_index(t, OnDemandThroughput={"MaxReadRequestUnits": -1})
    expect("OnDemandThroughput" not in index_of(t), "no member once both are removed")
    # An index created by UpdateTable takes its maximums too.
    ddb.update_table(
        TableName=t, AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by_h", "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}, "OnDemandThroughput": {"MaxWriteRequestUnits": 9}}}])
    eq(index_of(t, "by_h")["OnDemandThroughput"], {"MaxWriteRequestUnits": 9}, "the new index's maximum")


@check
def an_index_read_maximum_throttles_its_queries_and_scans_not_the_tables_reads():
    t = create("read", by_g(OnDemandThroughput={"MaxReadRequestUnits": 1}))
    put_g(t, "a")
    # An eventually consistent read of one small entry takes half a unit: the index's
    # one unit a second admits two, then refuses.
    query_g(t)
    query_g(t)
    e = expect_error("ThrottlingException", MAXIMUM, query_g, t)
    throttled_by(e, "IndexReadMaxOnDemandThroughputExceeded", t)
    expect_error("ThrottlingException", MAXIMUM, ddb.scan, TableName=t, IndexName="by_g")
    # The table's own reads are not the index's concern.
    eq(ddb.get_item(TableName=t, Key={"pk": {"S": "a"}})["Item"]["pk"], {"S": "a"}, "GetItem")
    eq(ddb.query(TableName=t, KeyConditionExpression="pk = :p",
                 ExpressionAttributeValues={":p": {"S": "a"}})["Count"], 1, "Query of the table")
    eq(ddb.scan(TableName=t)["Count"], 1, "Scan of the table")
    # Writes have no maximum on this index.
    put_g(t, "b")
    advance(1000)
    eq(query_g(t)["Count"], 2, "a second later the index is read again")


@check
def a_write_maximum_set_by_update_table_throttles_the_tables_writes_until_removed():
    t = create("write", by_g())
    update_index(t, OnDemandThroughput={"MaxWriteRequestUnits": 1})
    put_g(t, "a")
    e = expect_error("ThrottlingException", MAXIMUM, put_g, t, "b")
    throttled_by(e, "IndexWriteMaxOnDemandThroughputExceeded", t)
    # Reads have no maximum on this index.
    query_g(t)
    update_index(t, OnDemandThroughput={"MaxWriteRequestUnits": -1})
    put_g(t, "b")
    put_g(t, "c")


@check
def a_switch_to_provisioned_needs_the_index_units_and_drops_its_maximums_for_good():
    # As DynamoDB was probed doing (go-to-k/cdkd#3403): the index's maximum is gone
    # after PROVISIONED, and does not come back with PAY_PER_REQUEST.
    t = create("flip", by_g(OnDemandThroughput={"MaxReadRequestUnits": 200}))
    # The switch must give the index its units (dynalite's UpdateTable test, written
    # against DynamoDB, records the refusal).
    expect_error("ValidationException", INVALID + "ProvisionedThroughput must be specified for index: by_g",
                 ddb.update_table, TableName=t, BillingMode="PROVISIONED",
                 ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    eq(describe(t)["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST", "the refused switch changed nothing")
    ddb.update_table(TableName=t, BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
                     GlobalSecondaryIndexUpdates=[{"Update": {"IndexName": "by_g", "ProvisionedThroughput": {
                         "ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}}])
    ix = index_of(t)
    expect("OnDemandThroughput" not in ix, f"no maximum once provisioned: {ix}")
    eq(ix["ProvisionedThroughput"]["ReadCapacityUnits"], 5, "the index's units")
    eq(ix["ProvisionedThroughput"]["NumberOfDecreasesToday"], 0, "the switch is no decrease")
    ddb.update_table(TableName=t, BillingMode="PAY_PER_REQUEST")
    ix = index_of(t)
    expect("OnDemandThroughput" not in ix, "the maximum does not come back")
    eq((ix["ProvisionedThroughput"]["ReadCapacityUnits"], ix["ProvisionedThroughput"]["WriteCapacityUnits"]),
       (0, 0), "an on-demand index's units, as DynamoDB reports them")
    # Back to provisioned, the index's old units are not taken up again unasked.
    expect_error("ValidationException", INVALID + "ProvisionedThroughput must be specified for index: by_g",
                 ddb.update_table, TableName=t, BillingMode="PROVISIONED",
                 ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})


@check
def warm_throughput_is_taken_described_raised_and_never_decreased():
    t = create("warm", by_g(WarmThroughput={"ReadUnitsPerSecond": 13000}),
               WarmThroughput={"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 5000})
    eq(describe(t)["WarmThroughput"], {"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 5000, "Status": "ACTIVE"},
       "the table's")
    eq(index_of(t)["WarmThroughput"], {"ReadUnitsPerSecond": 13000, "WriteUnitsPerSecond": 4000, "Status": "ACTIVE"},
       "the index's (the member not given at DynamoDB's initial throughput)")
    ddb.update_table(TableName=t, WarmThroughput={"WriteUnitsPerSecond": 6000})
    eq(describe(t)["WarmThroughput"], {"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 6000, "Status": "ACTIVE"},
       "the table's raised")
    update_index(t, WarmThroughput={"WriteUnitsPerSecond": 4500})
    eq(index_of(t)["WarmThroughput"], {"ReadUnitsPerSecond": 13000, "WriteUnitsPerSecond": 4500, "Status": "ACTIVE"},
       "the index's raised")
    # The same value is accepted; a lower one is refused.
    ddb.update_table(TableName=t, WarmThroughput={"ReadUnitsPerSecond": 15000})
    expect_error("ValidationException",
                 INVALID + "Requested ReadUnitsPerSecond for WarmThroughput for table is lower than current "
                 "WarmThroughput, decreasing WarmThroughput is not supported",
                 ddb.update_table, TableName=t, WarmThroughput={"ReadUnitsPerSecond": 14000})
    expect_error("ValidationException",
                 INVALID + "Requested WriteUnitsPerSecond for WarmThroughput for index by_g is lower than current "
                 "WarmThroughput, decreasing WarmThroughput is not supported",
                 update_index, t, WarmThroughput={"WriteUnitsPerSecond": 4000})


@check
def an_on_demand_table_takes_its_warm_write_throughput_in_one_second():
    # Warm throughput is what the table takes at once: 4,000 one-unit writes on
    # distinct keys, with the manual clock standing still, are all processed.
    t = create("warmw")
    for batch in range(WARM_WRITES // BATCH_WRITE_ITEMS_MAX):
        requests = [{"PutRequest": {"Item": {"pk": {"S": f"k{batch}-{n}"}}}} for n in range(BATCH_WRITE_ITEMS_MAX)]
        out = ddb.batch_write_item(RequestItems={t: requests})
        eq(out["UnprocessedItems"], {}, f"batch {batch} fully processed")
    eq(ddb.scan(TableName=t, Select="COUNT")["Count"], WARM_WRITES, "every item written")


@check
def invalid_maximums_and_warm_throughput_are_refused_as_dynamodb_refuses_them():
    for value in (0, -1):
        expect_error("ValidationException",
                     INVALID + "Requested MaxReadRequestUnits for OnDemandThroughput for index : by_g is outside "
                     "of valid range",
                     create, f"bad{value + 1}", by_g(OnDemandThroughput={"MaxReadRequestUnits": value}), raw)
    expect_error("ValidationException",
                 INVALID + "MaxWriteRequestUnits for OnDemandThroughput for index: by_g cannot be specified when "
                 "the table BillingMode is PROVISIONED",
                 create, "bad3", by_g(OnDemandThroughput={"MaxWriteRequestUnits": 5},
                                      ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}),
                 raw, provisioned=True)
    expect_error("ValidationException",
                 INVALID + "Requested WriteUnitsPerSecond for WarmThroughput for index by_g is lower than initial "
                 f"throughput for OnDemand. See: {INITIAL_URL}",
                 create, "bad4", by_g(WarmThroughput={"WriteUnitsPerSecond": 100}), raw)
    expect_error("ValidationException",
                 INVALID + "Requested ReadUnitsPerSecond for WarmThroughput for table is lower than initial "
                 f"throughput for OnDemand. See: {INITIAL_URL}",
                 create, "bad5", None, raw, WarmThroughput={"ReadUnitsPerSecond": 1})
    names = ddb.list_tables()["TableNames"]
    expect(not any(n.startswith(f"{PREFIX}-bad") for n in names), f"no refused table exists: {names}")
    # UpdateTable's index Update: 0 is out of range (-1 removes), and a provisioned
    # table's index takes no maximum.
    t = create("upd", by_g())
    expect_error("ValidationException",
                 INVALID + "Requested MaxWriteRequestUnits for OnDemandThroughput for index : by_g is outside "
                 "of valid range",
                 update_index, t, raw, OnDemandThroughput={"MaxWriteRequestUnits": 0})
    p = create("updp", by_g(ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}),
               provisioned=True)
    expect_error("ValidationException",
                 INVALID + "MaxReadRequestUnits for OnDemandThroughput for index: by_g cannot be specified when "
                 "the table BillingMode is PROVISIONED",
                 update_index, p, raw, OnDemandThroughput={"MaxReadRequestUnits": 3},
                 ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 2})
    expect("OnDemandThroughput" not in index_of(t), "the refused update left no maximum")


if __name__ == "__main__":
    sys.exit(run_checks(f"GSI throughput checks against {ENDPOINT} (tables {PREFIX}-*)", FILTERS, DEADLINE,
                        delete_created_tables))
