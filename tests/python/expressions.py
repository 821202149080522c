#!/usr/bin/env python3
"""Expression language and legacy parameters of a DynamoDB-compatible endpoint, with boto3.

Usage:
    python tests/python/expressions.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as smoke.py: the Rust integration tests start Eddy on an ephemeral
port and run this with the venv made by ./tests/run.sh (EDDY_TEST_PYTHON). It asserts
what DynamoDB does (error codes and exact messages), one line per check
("ok   name (0.12s)" / "FAIL name: why"), then "N passed, M failed"; the exit code
is 0 only if every check passed. A failing check never stops the run. Optional
NAME_FILTER arguments run only checks whose name contains one of them (the checks
that create the tables always run).

Tables are named "expr-<random>-<role>" and deleted at the end (best effort).
Environment: EDDY_SMOKE_REGION (default us-east-1), EDDY_SMOKE_DEADLINE (seconds for
the whole run, default 300).
"""

import sys
from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import ClientError
from checks import CheckFailed, check, eq, expect, standalone  # noqa: F401 - shared runner
from checks import run as run_checks

S = standalone(__doc__, "expr")
ENDPOINT, FILTERS, REGION, DEADLINE, PREFIX = S.endpoint, S.filters, S.region, S.deadline, S.prefix
SESSION, CONFIG, ddb = S.session, S.config, S.ddb
res = SESSION.resource("dynamodb", endpoint_url=ENDPOINT, config=CONFIG)
# No client-side validation: the server must reject bad input itself.
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

T = {}
CREATED = []

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


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


VALIDATION = "ValidationException"
FAILED = "ConditionalCheckFailedException"
FAILED_MSG = "The conditional request failed"


def tname(role):
    return f"{PREFIX}-{role}"


def create_table(role, range_key=False):
    name = tname(role)
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=attrs,
        KeySchema=keys,
        BillingMode="PAY_PER_REQUEST",
    )
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


def run_all():
    return run_checks(f"expression checks against {ENDPOINT} (tables {PREFIX}-*)", FILTERS, DEADLINE, delete_created_tables)


# ---------------------------------------------------------------------------
# set-up
# ---------------------------------------------------------------------------


@check(always=True)
def create_tables():
    create_table("items")
    create_table("sorted", range_key=True)
    table = res.Table(T["sorted"])
    with table.batch_writer() as w:
        for i in range(10):
            w.put_item(
                Item={
                    "pk": "p",
                    "sk": i,
                    "v": i * 10,
                    "doc": {"name": f"n{i}", "lst": ["a", "b", "c"]},
                    "tag": "even" if i % 2 == 0 else "odd",
                }
            )


# ---------------------------------------------------------------------------
# ConditionExpression
# ---------------------------------------------------------------------------


@check
def condition_put_update_delete():
    t = res.Table(T["items"])
    t.put_item(Item={"pk": "c", "status": "active", "n": 5}, ConditionExpression=Attr("pk").not_exists())
    expect_error(FAILED, FAILED_MSG, t.put_item, Item={"pk": "c"},
                 ConditionExpression=Attr("pk").not_exists())
    t.update_item(
        Key={"pk": "c"},
        UpdateExpression="SET n = n + :one",
        ConditionExpression=Attr("status").eq("active") & Attr("n").between(1, 9),
        ExpressionAttributeValues={":one": 1},
    )
    eq(t.get_item(Key={"pk": "c"})["Item"]["n"], Decimal(6), "n after conditional update")
    expect_error(FAILED, FAILED_MSG, t.delete_item, Key={"pk": "c"},
                 ConditionExpression=Attr("n").eq("6"))  # a string never equals a number
    t.delete_item(Key={"pk": "c"}, ConditionExpression=Attr("n").is_in([5, 6]) | Attr("x").exists())
    expect("Item" not in t.get_item(Key={"pk": "c"}), "item deleted")


@check
def condition_failure_returns_all_old():
    ddb.put_item(TableName=T["items"], Item={"pk": {"S": "o"}, "v": {"N": "1"}})
    e = expect_error(
        FAILED, FAILED_MSG, ddb.put_item,
        TableName=T["items"], Item={"pk": {"S": "o"}},
        ConditionExpression="v = :two", ExpressionAttributeValues={":two": {"N": "2"}},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    eq(e.response.get("Item"), {"pk": {"S": "o"}, "v": {"N": "1"}}, "Item of the failure")
    e = expect_error(
        FAILED, FAILED_MSG, ddb.update_item,
        TableName=T["items"], Key={"pk": {"S": "o"}}, UpdateExpression="SET v = :two",
        ConditionExpression="v = :two", ExpressionAttributeValues={":two": {"N": "2"}},
    )
    expect("Item" not in e.response, "no Item without ReturnValuesOnConditionCheckFailure")


# ---------------------------------------------------------------------------
# UpdateExpression and ReturnValues
# ---------------------------------------------------------------------------


@check
def update_all_clauses_nested_return_values():
    t = res.Table(T["items"])
    t.put_item(Item={"pk": "u", "cnt": 1, "m": {"l": [1, {"x": "old"}]}, "lst": ["b"],
                     "tags": {"a", "b"}, "gone": 1})
    out = t.update_item(
        Key={"pk": "u"},
        UpdateExpression="SET m.l[1].x = :new, cnt = cnt + :two, lst = list_append(:front, lst), "
                         "f = if_not_exists(f, :zero) REMOVE gone ADD tags2 :c DELETE tags :a",
        ExpressionAttributeValues={":new": "new", ":two": 2, ":front": ["a"], ":zero": 0,
                                   ":c": {"c"}, ":a": {"a"}},
        ReturnValues="UPDATED_NEW",
    )
    eq(out["Attributes"], {"m": {"l": [{"x": "new"}]}, "cnt": 3, "lst": ["a", "b"], "f": 0,
                           "tags2": {"c"}, "tags": {"b"}}, "UPDATED_NEW")
    out = t.update_item(Key={"pk": "u"}, UpdateExpression="REMOVE cnt, lst[0]",
                        ReturnValues="UPDATED_OLD")
    eq(out["Attributes"], {"cnt": 3, "lst": ["a"]}, "UPDATED_OLD")
    out = t.update_item(Key={"pk": "u"}, UpdateExpression="SET z = :z",
                        ExpressionAttributeValues={":z": 1}, ReturnValues="ALL_NEW")
    eq(out["Attributes"]["lst"], ["b"], "ALL_NEW lst")


@check
def update_errors_write_nothing():
    t = res.Table(T["items"])
    t.put_item(Item={"pk": "e", "s": "str"})
    cases = [
        ("SET a = :v, a.b = :v", {":v": 1},
         "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
         "rewrite one of these paths; path one: [a], path two: [a, b]"),
        ("SET pk = :v", {":v": "x"},
         "One or more parameter values were invalid: Cannot update attribute pk. "
         "This attribute is part of the key"),
        ("SET s = s + :v", {":v": 1}, "An operand in the update expression has an incorrect data type"),
        ("SET x = nope", None, "The provided expression refers to an attribute that does not exist in the item"),
        ("SET nope.deeper = :v", {":v": 1},
         "The document path provided in the update expression is invalid for update"),
        ("ADD s :v", {":v": "x"},
         "Invalid UpdateExpression: Incorrect operand type for operator or function; "
         "operator: ADD, operand type: STRING"),
    ]
    for expr, values, msg in cases:
        kw = {"ExpressionAttributeValues": values} if values else {}
        expect_error(VALIDATION, msg, t.update_item, Key={"pk": "e"}, UpdateExpression=expr, **kw)
    eq(t.get_item(Key={"pk": "e"})["Item"], {"pk": "e", "s": "str"}, "item unchanged")
    for rv in ("ALL_NEW", "UPDATED_NEW", "UPDATED_OLD"):
        expect_error(VALIDATION, "ReturnValues can only be ALL_OLD or NONE",
                     t.put_item, Item={"pk": "e2"}, ReturnValues=rv)
        expect_error(VALIDATION, "ReturnValues can only be ALL_OLD or NONE",
                     t.delete_item, Key={"pk": "e"}, ReturnValues=rv)
    expect("Item" not in t.get_item(Key={"pk": "e2"}), "no e2")


# ---------------------------------------------------------------------------
# ProjectionExpression, FilterExpression, KeyConditionExpression
# ---------------------------------------------------------------------------


@check
def projection_on_get_batch_query_scan():
    want = {"doc": {"name": "n3", "lst": ["c"]}}
    kw = {"ProjectionExpression": "doc.#n, doc.lst[2]", "ExpressionAttributeNames": {"#n": "name"}}
    t = res.Table(T["sorted"])
    eq(t.get_item(Key={"pk": "p", "sk": 3}, **kw)["Item"], want, "GetItem")
    got = res.batch_get_item(RequestItems={T["sorted"]: {"Keys": [{"pk": "p", "sk": 3}], **kw}})
    eq(got["Responses"][T["sorted"]], [want], "BatchGetItem")
    eq(t.query(KeyConditionExpression=Key("pk").eq("p") & Key("sk").eq(3), **kw)["Items"], [want], "Query")
    eq(t.scan(FilterExpression=Attr("sk").eq(3), **kw)["Items"], [want], "Scan")


@check
def filter_with_limit_and_scanned_count():
    t = res.Table(T["sorted"])
    out = t.query(KeyConditionExpression=Key("pk").eq("p"), FilterExpression=Attr("tag").eq("odd"), Limit=4)
    eq((out["Count"], out["ScannedCount"]), (2, 4), "Count, ScannedCount")
    eq(out["LastEvaluatedKey"], {"pk": "p", "sk": 3}, "LastEvaluatedKey")
    out = t.scan(FilterExpression=Attr("v").gte(50) & Attr("doc.lst").size().eq(3), Select="COUNT")
    eq((out["Count"], out["ScannedCount"]), (5, 10), "scan COUNT")


@check
def key_condition_errors():
    cases = [
        ("pk = :p AND v = :one", "Query condition missed key schema element: sk"),
        ("pk = :p AND sk > :one AND sk < :one", "KeyConditionExpressions must only contain one condition per key"),
        ("pk = :p OR sk = :one", "Invalid operator used in KeyConditionExpression: OR"),
        ("pk = :p AND size(sk) = :one", "KeyConditionExpressions cannot contain nested operations"),
    ]
    for expr, msg in cases:
        expect_error(VALIDATION, msg, ddb.query, TableName=T["sorted"], KeyConditionExpression=expr,
                     ExpressionAttributeValues={":p": {"S": "p"}, ":one": {"N": "1"}})


@check
def names_values_and_reserved_words():
    base = {"TableName": T["items"], "Item": {"pk": {"S": "nv"}}}
    expect_error(VALIDATION, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#u}",
                 ddb.put_item, ConditionExpression="attribute_not_exists(pk)",
                 ExpressionAttributeNames={"#u": "u"}, **base)
    expect_error(VALIDATION, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:u}",
                 ddb.put_item, ConditionExpression="attribute_not_exists(pk)",
                 ExpressionAttributeValues={":u": {"N": "1"}}, **base)
    expect_error(VALIDATION, "Invalid ConditionExpression: An expression attribute value used in expression "
                             "is not defined; attribute value: :v",
                 ddb.put_item, ConditionExpression="a = :v", **base)
    expect_error(VALIDATION, "Invalid ConditionExpression: Attribute name is a reserved keyword; "
                             "reserved keyword: name",
                 ddb.put_item, ConditionExpression="attribute_not_exists(name)", **base)
    expect_error(VALIDATION, "ExpressionAttributeNames can only be specified when using expressions",
                 ddb.put_item, ExpressionAttributeNames={"#a": "a"}, **base)
    ddb.put_item(ConditionExpression="attribute_not_exists(#n)", ExpressionAttributeNames={"#n": "name"}, **base)


@check
def expression_limits():
    values = {f":v{i}": {"N": str(i)} for i in range(101)}
    expect_error(VALIDATION, "Invalid FilterExpression: The IN operator is provided with too many operands; "
                             "number of operands: 101",
                 ddb.scan, TableName=T["sorted"], FilterExpression=f"v IN ({', '.join(values)})",
                 ExpressionAttributeValues=values)
    expr = " AND ".join(["v = :v1"] * 151)
    expect_error(VALIDATION, "Invalid FilterExpression: The expression contains too many operators; "
                             "operator count: 301",
                 ddb.scan, TableName=T["sorted"], FilterExpression=expr,
                 ExpressionAttributeValues={":v1": {"N": "1"}})
    long = "v = :v1" + " " * 4096
    expect_error(VALIDATION, "Invalid FilterExpression: Expression size has exceeded the maximum allowed size; "
                             f"expression size: {len(long)}",
                 ddb.scan, TableName=T["sorted"], FilterExpression=long,
                 ExpressionAttributeValues={":v1": {"N": "1"}})


# ---------------------------------------------------------------------------
# legacy parameters
# ---------------------------------------------------------------------------


@check
def legacy_reads():
    name = T["sorted"]
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "1"}}, AttributesToGet=["v", "tag"])
    eq(got["Item"], {"v": {"N": "10"}, "tag": {"S": "odd"}}, "GetItem AttributesToGet")
    out = ddb.query(
        TableName=name,
        KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
                       "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "5"}]}},
        QueryFilter={"tag": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "odd"}]},
                     "v": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "60"}]}},
        ConditionalOperator="OR",
        AttributesToGet=["sk"],
    )
    eq([i["sk"]["N"] for i in out["Items"]], ["5", "7", "9"], "Query legacy")
    out = ddb.scan(TableName=name, ScanFilter={
        "doc": {"ComparisonOperator": "NOT_NULL"},
        "v": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "20"}, {"N": "40"}]}})
    eq(out["Count"], 3, "Scan legacy")
    expect_error(VALIDATION, "Attempted conditional constraint is not an indexable operation", ddb.query,
                 TableName=name, KeyConditions={"pk": {"ComparisonOperator": "NULL"}})
    expect_error(VALIDATION, "One or more parameter values were invalid: Invalid number of argument(s) for the "
                             "EQ ComparisonOperator",
                 ddb.scan, TableName=name, ScanFilter={"v": {"ComparisonOperator": "EQ"}})
    expect_error(VALIDATION, "1 validation error detected: Value 'LIKE' at 'scanFilter.v.member.comparisonOperator' "
                             "failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, "
                             "LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
                 raw.scan, TableName=name, ScanFilter={"v": {"ComparisonOperator": "LIKE"}})


@check
def legacy_writes():
    name = T["items"]
    key = {"pk": {"S": "lw"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}}, Expected={"pk": {"Exists": False}})
    expect_error(FAILED, FAILED_MSG, ddb.put_item, TableName=name, Item=key, Expected={"pk": {"Exists": False}})
    out = ddb.update_item(
        TableName=name, Key=key,
        AttributeUpdates={"v": {"Action": "ADD", "Value": {"N": "2"}},
                          "s": {"Action": "PUT", "Value": {"SS": ["a", "b"]}},
                          "l": {"Action": "ADD", "Value": {"L": [{"S": "x"}]}}},
        Expected={"v": {"Value": {"N": "1"}}, "nope": {"ComparisonOperator": "NULL"}},
        ReturnValues="ALL_NEW",
    )
    eq(out["Attributes"]["v"], {"N": "3"}, "ADD number")
    eq(out["Attributes"]["l"], {"L": [{"S": "x"}]}, "ADD list")
    ddb.update_item(TableName=name, Key=key,
                    AttributeUpdates={"s": {"Action": "DELETE", "Value": {"SS": ["a"]}},
                                      "l": {"Action": "DELETE"}})
    item = ddb.get_item(TableName=name, Key=key)["Item"]
    eq(item, {**key, "v": {"N": "3"}, "s": {"SS": ["b"]}}, "after DELETE actions")
    expect_error(FAILED, FAILED_MSG, ddb.delete_item, TableName=name, Key=key,
                 Expected={"v": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "5"}]},
                           "s": {"Exists": False}},
                 ConditionalOperator="OR")
    expect_error(VALIDATION, "Type mismatch for attribute to update", ddb.update_item, TableName=name, Key=key,
                 AttributeUpdates={"s": {"Action": "ADD", "Value": {"N": "1"}}})
    expect_error(VALIDATION, "One or more parameter values were invalid: Value must be provided when Exists is "
                             "true for Attribute: v",
                 ddb.delete_item, TableName=name, Key=key, Expected={"v": {"Exists": True}})
    eq(ddb.get_item(TableName=name, Key=key)["Item"], item, "failures wrote nothing")


@check
def legacy_and_expression_mixing():
    prefix = "Can not use both expression and non-expression parameters in the same request: "
    expect_error(VALIDATION, prefix + "Non-expression parameters: {AttributesToGet} "
                                      "Expression parameters: {ProjectionExpression}",
                 ddb.get_item, TableName=T["sorted"], Key={"pk": {"S": "p"}, "sk": {"N": "1"}},
                 AttributesToGet=["v"], ProjectionExpression="v")
    expect_error(VALIDATION, prefix + "Non-expression parameters: {Expected} "
                                      "Expression parameters: {ConditionExpression}",
                 ddb.put_item, TableName=T["items"], Item={"pk": {"S": "mix"}},
                 Expected={"pk": {"Exists": False}}, ConditionExpression="attribute_not_exists(pk)")
    expect_error(VALIDATION, prefix + "Non-expression parameters: {AttributeUpdates} "
                                      "Expression parameters: {UpdateExpression}",
                 ddb.update_item, TableName=T["items"], Key={"pk": {"S": "mix"}},
                 AttributeUpdates={"a": {"Action": "PUT", "Value": {"N": "1"}}},
                 UpdateExpression="SET b = :b", ExpressionAttributeValues={":b": {"N": "1"}})
    expect_error(VALIDATION, prefix + "Non-expression parameters: {ScanFilter} "
                                      "Expression parameters: {FilterExpression}",
                 ddb.scan, TableName=T["sorted"], ScanFilter={"v": {"ComparisonOperator": "NOT_NULL"}},
                 FilterExpression="attribute_exists(v)")
    expect("Item" not in ddb.get_item(TableName=T["items"], Key={"pk": {"S": "mix"}}), "nothing written")


@check
def constants_the_operator_cannot_compare():
    # Found while parsing: on a missing item too, and in a filter before any item.
    key = {"pk": {"S": "no-such-item"}}
    expect_error(VALIDATION, "Invalid ConditionExpression: Incorrect operand type for operator or "
                             "function; operator or function: <, operand type: L",
                 ddb.put_item, TableName=T["items"], Item=key, ConditionExpression="n < :v",
                 ExpressionAttributeValues={":v": {"L": [{"N": "1"}]}})
    expect_error(VALIDATION, "Invalid FilterExpression: Incorrect operand type for operator or "
                             "function; operator or function: BETWEEN, operand type: M",
                 ddb.scan, TableName=T["sorted"], FilterExpression="v BETWEEN :a AND :b",
                 ExpressionAttributeValues={":a": {"M": {}}, ":b": {"M": {}}})
    expect_error(VALIDATION, "One or more parameter values were invalid: ComparisonOperator GT is "
                             "not valid for BOOL AttributeValue type",
                 ddb.put_item, TableName=T["items"], Item=key,
                 Expected={"n": {"ComparisonOperator": "GT", "AttributeValueList": [{"BOOL": True}]}})
    expect_error(VALIDATION, "One or more parameter values were invalid: ComparisonOperator IN is "
                             "not valid for L AttributeValue type",
                 ddb.query, TableName=T["sorted"],
                 KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]}},
                 QueryFilter={"doc": {"ComparisonOperator": "IN", "AttributeValueList": [{"L": []}]}})
    expect("Item" not in ddb.get_item(TableName=T["items"], Key=key), "nothing written")
    # EQ in a QueryFilter compares maps; NOT_CONTAINS skips items without the attribute.
    out = ddb.query(TableName=T["sorted"],
                    KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]}},
                    QueryFilter={"doc": {"ComparisonOperator": "EQ", "AttributeValueList": [
                        {"M": {"name": {"S": "n3"}, "lst": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}]}}}]}})
    eq([i["sk"]["N"] for i in out["Items"]], ["3"], "EQ on a map")
    out = ddb.query(TableName=T["sorted"],
                    KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]}},
                    QueryFilter={"nope": {"ComparisonOperator": "NOT_CONTAINS",
                                          "AttributeValueList": [{"S": "x"}]}})
    eq(out["Count"], 0, "NOT_CONTAINS on a missing attribute")


@check
def update_paths_names_and_list_append():
    t = res.Table(T["items"])
    t.put_item(Item={"pk": "u", "a": ["one", "two", "three"], "s": "hello"})
    key = {"pk": "u"}
    for expr, message in [
        ("REMOVE nope.x", "The document path provided in the update expression is invalid for update"),
        ("REMOVE s[0]", "The document path provided in the update expression is invalid for update"),
        ("SET _123 = :v", 'Invalid UpdateExpression: Syntax error; token: "_", near: "SET _123"'),
        ("SET a = list_append(list_append(:v, :v), :v)",
         "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; "
         "function: list_append"),
    ]:
        values = {":v": ["x"]} if ":v" in expr else None
        kwargs = {"ExpressionAttributeValues": values} if values else {}
        expect_error(VALIDATION, message, t.update_item, Key=key, UpdateExpression=expr, **kwargs)
    t.update_item(Key=key, UpdateExpression="SET a[84] = :a, a[37] = :b, a[17] = :c",
                  ExpressionAttributeValues={":a": "a1", ":b": "a2", ":c": "a3"})
    eq(t.get_item(Key=key)["Item"]["a"], ["one", "two", "three", "a3", "a2", "a1"], "appended by index")


if __name__ == "__main__":
    sys.exit(run_all())
