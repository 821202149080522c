#!/usr/bin/env python3
"""ConsumedCapacity of a DynamoDB-compatible endpoint, with boto3: exact numbers for
every operation that takes ReturnConsumedCapacity, by DynamoDB's rules (reads in 4 KB
units, half for eventually consistent ones; writes in 1 KB units of the larger image;
transactions twice; index entries by what a write changes).

Usage:
    python tests/python/consumed_capacity.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as expressions.py: one line per check, then "N passed, M failed"; the
exit code is 0 only if every check passed. Items are {pk, d} with d padded so that the
item's DynamoDB size (attribute names plus values) is exactly what `sized` is asked
for. Tables are named "cc-<random>-<role>" and deleted at the end (best effort).
Environment: EDDY_SMOKE_REGION (default us-east-1), EDDY_SMOKE_DEADLINE (seconds for
the whole run, default 300).
"""

import sys

import boto3
from botocore.exceptions import ClientError
from checks import CheckFailed, check, eq, expect, standalone
from checks import run as run_checks

S = standalone(__doc__, "cc")
ENDPOINT, FILTERS, REGION, DEADLINE, PREFIX = S.endpoint, S.filters, S.region, S.deadline, S.prefix
SESSION, CONFIG, ddb = S.session, S.config, S.ddb

T = {}
CREATED = []


def create_table(role, range_key=False, **extra):
    name = f"{PREFIX}-{role}"
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    attrs += extra.pop("more_attrs", [])
    ddb.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=keys,
                     BillingMode="PAY_PER_REQUEST", **extra)
    CREATED.append(name)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    T[role] = name
    return name


def delete_created_tables():
    for name in CREATED:
        try:
            ddb.delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - best effort
            pass


def sized(pk, size, **more):
    """An item {pk, d, **more} of exactly `size` bytes."""
    item = {"pk": {"S": pk}, **more}
    used = sum(len(k) + len(v.get("S", "")) for k, v in item.items()) + len("d")
    item["d"] = {"S": "x" * (size - used)}
    return item


def total(out, table):
    """CapacityUnits of a TOTAL answer, which names the table and has no split."""
    cc = out.get("ConsumedCapacity")
    expect(cc is not None, f"ConsumedCapacity was asked for: {out}")
    eq(cc.get("TableName"), table, "TableName")
    for absent in ("ReadCapacityUnits", "WriteCapacityUnits", "Table"):
        expect(absent not in cc, f"{absent} is not part of a TOTAL answer: {cc}")
    return cc["CapacityUnits"]


def per_table(out):
    """{table: CapacityUnits} of a batch's or transaction's list."""
    return {c["TableName"]: c["CapacityUnits"] for c in out["ConsumedCapacity"]}


@check(always=True)
def create_tables():
    create_table("plain")
    create_table("sorted", range_key=True)
    create_table(
        "indexed",
        range_key=True,
        more_attrs=[{"AttributeName": "g", "AttributeType": "S"},
                    {"AttributeName": "l", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "gsi",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["proj"]},
        }],
        LocalSecondaryIndexes=[{
            "IndexName": "lsi",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "l", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
    )


def put(table, item, rcc="TOTAL"):
    return ddb.put_item(TableName=table, Item=item, ReturnConsumedCapacity=rcc)


@check
def get_item_small_large_missing():
    t = T["plain"]
    put(t, sized("small", 3500))
    put(t, sized("large", 4097))
    for pk, consistent, want in [("small", False, 0.5), ("small", True, 1.0),
                                 ("large", False, 1.0), ("large", True, 2.0),
                                 ("missing", False, 0.5), ("missing", True, 1.0)]:
        out = ddb.get_item(TableName=t, Key={"pk": {"S": pk}}, ConsistentRead=consistent,
                           ReturnConsumedCapacity="TOTAL")
        eq(total(out, t), want, f"GetItem {pk} consistent={consistent}")
    out = ddb.get_item(TableName=t, Key={"pk": {"S": "small"}}, ReturnConsumedCapacity="NONE")
    expect("ConsumedCapacity" not in out, "NONE answers no ConsumedCapacity")
    out = ddb.get_item(TableName=t, Key={"pk": {"S": "small"}})
    expect("ConsumedCapacity" not in out, "no ReturnConsumedCapacity answers none")


@check
def put_update_delete():
    t = T["plain"]
    eq(total(put(t, sized("w", 1024)), t), 1.0, "new 1 KB item")
    eq(total(put(t, sized("w", 2500)), t), 3.0, "overwrite with a larger item")
    eq(total(put(t, sized("w", 100)), t), 3.0, "overwrite with a smaller item: the larger counts")
    out = ddb.update_item(TableName=t, Key={"pk": {"S": "w"}}, UpdateExpression="SET e = :e",
                          ExpressionAttributeValues={":e": {"S": "y" * 3000}},
                          ReturnConsumedCapacity="TOTAL")
    eq(total(out, t), 4.0, "update to 3,101 bytes")
    out = ddb.delete_item(TableName=t, Key={"pk": {"S": "nothing-here"}}, ReturnConsumedCapacity="TOTAL")
    eq(total(out, t), 1.0, "delete of a missing item")
    try:
        ddb.put_item(TableName=t, Item=sized("w", 10), ConditionExpression="attribute_not_exists(pk)",
                     ReturnConsumedCapacity="TOTAL")
    except ClientError as e:
        eq(e.response["Error"]["Code"], "ConditionalCheckFailedException", "error code")
        expect("ConsumedCapacity" not in e.response, "an error carries no ConsumedCapacity")
    else:
        raise CheckFailed("the condition should have failed")


@check
def query_and_scan_sum_then_round():
    t = T["sorted"]
    for sk in ("1", "2", "3"):
        put(t, sized("p", 1500, sk={"S": sk}))
    q = {"TableName": t, "KeyConditionExpression": "pk = :p",
         "ExpressionAttributeValues": {":p": {"S": "p"}}, "ReturnConsumedCapacity": "TOTAL"}
    eq(total(ddb.query(**q, ConsistentRead=True), t), 2.0, "3 x 1.5 KB strongly: 8 KB")
    eq(total(ddb.query(**q), t), 1.0, "3 x 1.5 KB eventually")
    eq(total(ddb.query(**q, Limit=1), t), 0.5, "Limit 1")
    filtered = ddb.query(**{**q, "ExpressionAttributeValues": {":p": {"S": "p"}, ":v": {"S": "none"}}},
                         FilterExpression="d = :v")
    eq((filtered["Count"], filtered["ScannedCount"]), (0, 3), "filtered out")
    eq(total(filtered, t), 1.0, "a filter does not lower the cost")
    scan = ddb.scan(TableName=t, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    eq(total(scan, t), 2.0, "Scan of 4.5 KB strongly")


@check
def batch_get_and_write_round_each_item():
    t = T["plain"]
    out = ddb.batch_write_item(RequestItems={t: [{"PutRequest": {"Item": sized("b1", 500)}},
                                                 {"PutRequest": {"Item": sized("b2", 3584)}}]},
                               ReturnConsumedCapacity="TOTAL")
    eq(per_table(out), {t: 5.0}, "BatchWriteItem 500 B + 3.5 KB")
    put(t, sized("b1", 1536))
    put(t, sized("b2", 6656))
    out = ddb.batch_get_item(RequestItems={t: {"Keys": [{"pk": {"S": "b1"}}, {"pk": {"S": "b2"}}],
                                               "ConsistentRead": True}},
                             ReturnConsumedCapacity="TOTAL")
    eq(per_table(out), {t: 3.0}, "BatchGetItem 1.5 KB + 6.5 KB: 4 KB + 8 KB")


@check
def transactions_cost_twice():
    t = T["plain"]
    out = ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": t, "Item": sized("t1", 10)}},
        {"Put": {"TableName": t, "Item": sized("t2", 900)}},
    ], ReturnConsumedCapacity="TOTAL")
    eq(out["ConsumedCapacity"], [{"TableName": t, "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0}],
       "TransactWriteItems")
    out = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": t, "Key": {"pk": {"S": "t1"}}}},
        {"Get": {"TableName": t, "Key": {"pk": {"S": "none"}}}},
    ], ReturnConsumedCapacity="TOTAL")
    eq(out["ConsumedCapacity"], [{"TableName": t, "CapacityUnits": 4.0, "ReadCapacityUnits": 4.0}],
       "TransactGetItems")


@check
def indexes_breakdown():
    t = T["indexed"]
    item = {"pk": {"S": "a"}, "sk": {"S": "1"}, "g": {"S": "x"}, "l": {"S": "y"},
            "proj": {"S": "p"}, "extra": {"S": "o"}}
    out = put(t, item, rcc="INDEXES")
    eq(out["ConsumedCapacity"], {
        "TableName": t, "CapacityUnits": 3.0, "Table": {"CapacityUnits": 1.0},
        "GlobalSecondaryIndexes": {"gsi": {"CapacityUnits": 1.0}},
        "LocalSecondaryIndexes": {"lsi": {"CapacityUnits": 1.0}},
    }, "PutItem into both indexes")
    out = ddb.update_item(TableName=t, Key={"pk": {"S": "a"}, "sk": {"S": "1"}},
                          UpdateExpression="SET g = :g", ExpressionAttributeValues={":g": {"S": "x2"}},
                          ReturnConsumedCapacity="INDEXES")
    eq(out["ConsumedCapacity"], {
        "TableName": t, "CapacityUnits": 3.0, "Table": {"CapacityUnits": 1.0},
        "GlobalSecondaryIndexes": {"gsi": {"CapacityUnits": 2.0}},
    }, "a GSI key move is two writes, the LSI untouched has no arm")
    out = ddb.query(TableName=t, IndexName="gsi", KeyConditionExpression="g = :g",
                    ExpressionAttributeValues={":g": {"S": "x2"}}, ReturnConsumedCapacity="INDEXES")
    eq(out["ConsumedCapacity"], {
        "TableName": t, "CapacityUnits": 0.5, "Table": {"CapacityUnits": 0.0},
        "GlobalSecondaryIndexes": {"gsi": {"CapacityUnits": 0.5}},
    }, "Query of the GSI")
    out = ddb.query(TableName=t, IndexName="lsi", KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "a"}}, ConsistentRead=True,
                    Select="ALL_PROJECTED_ATTRIBUTES", ReturnConsumedCapacity="INDEXES")
    eq(out["ConsumedCapacity"], {
        "TableName": t, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 0.0},
        "LocalSecondaryIndexes": {"lsi": {"CapacityUnits": 1.0}},
    }, "Query of the LSI, strongly consistent")


@check
def partiql_execute_statement():
    t = T["plain"]
    pad = "x" * 2000
    out = ddb.execute_statement(Statement=f"INSERT INTO \"{t}\" VALUE {{'pk': 'pq', 'd': '{pad}'}}",
                                ReturnConsumedCapacity="TOTAL")
    eq(total(out, t), 2.0, "INSERT of 2,004 bytes")
    out = ddb.execute_statement(Statement=f"SELECT * FROM \"{t}\" WHERE pk = 'pq'", ConsistentRead=True,
                                ReturnConsumedCapacity="TOTAL")
    eq(total(out, t), 1.0, "SELECT by key, strongly")
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": f"SELECT * FROM \"{t}\" WHERE pk = 'pq'", "ConsistentRead": True},
        {"Statement": f"SELECT * FROM \"{t}\" WHERE pk = 'absent'", "ConsistentRead": True},
    ], ReturnConsumedCapacity="TOTAL")
    eq(out["ConsumedCapacity"], [{"TableName": t, "CapacityUnits": 2.0}],
       "BatchExecuteStatement: one entry for the table, each read on its own")
    out = ddb.execute_transaction(TransactStatements=[
        {"Statement": f"UPDATE \"{t}\" SET n = 1 WHERE pk = 'pq'"},
    ], ReturnConsumedCapacity="TOTAL")
    eq(out["ConsumedCapacity"], [{"TableName": t, "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0}],
       "ExecuteTransaction: twice the 2 KB update")


if __name__ == "__main__":
    sys.exit(run_checks(f"ConsumedCapacity checks against {ENDPOINT} (tables {PREFIX}-*)", FILTERS, DEADLINE,
                        delete_created_tables))
