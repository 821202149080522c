#!/usr/bin/env python3
"""PartiQL (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction) of a
DynamoDB-compatible endpoint, with boto3.

Usage:
    python tests/python/partiql.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as expressions.py: one line per check, then "N passed, M failed"; the
exit code is 0 only if every check passed. It asserts what DynamoDB answers (error
codes and exact messages). Tables are named "pql-<random>-<role>" and deleted at the
end (best effort). Environment: EDDY_SMOKE_REGION (default us-east-1),
EDDY_SMOKE_DEADLINE (seconds for the whole run, default 300).
"""

import sys

import boto3
from botocore.exceptions import ClientError
from checks import CheckFailed, check, eq, expect, standalone
from checks import run as run_checks

S = standalone(__doc__, "pql")
ENDPOINT, FILTERS, REGION, DEADLINE, PREFIX = S.endpoint, S.filters, S.region, S.deadline, S.prefix
SESSION, CONFIG, ddb = S.session, S.config, S.ddb

T = {}
CREATED = []


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


def create_table(role, range_key=False):
    name = f"{PREFIX}-{role}"
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    ddb.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=keys, BillingMode="PAY_PER_REQUEST")
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


def run(statement, *params, **kwargs):
    if params:
        kwargs["Parameters"] = list(params)
    return ddb.execute_statement(Statement=statement, **kwargs)


@check(always=True)
def create_tables():
    create_table("items")
    create_table("sorted", range_key=True)


@check
def execute_statement_writes_and_reads():
    t = T["items"]
    out = run(f"INSERT INTO \"{t}\" VALUE {{'pk': ?, 'n': 1.50, 'tags': <<'x'>>, 'ok': true}}", {"S": "a"})
    eq(out["Items"], [], "a write answers no items")
    expect_error("DuplicateItemException", "Duplicate primary key exists in table",
                 run, f"INSERT INTO \"{t}\" VALUE {{'pk': 'a'}}")
    got = run(f"SELECT * FROM \"{t}\" WHERE pk = ?", {"S": "a"})["Items"]
    eq(got, [{"pk": {"S": "a"}, "n": {"N": "1.5"}, "tags": {"SS": ["x"]}, "ok": {"BOOL": True}}], "item read back")
    new = run(f"UPDATE \"{t}\" SET n = n + 1 REMOVE tags WHERE pk = 'a' RETURNING ALL NEW *")["Items"]
    eq(new, [{"pk": {"S": "a"}, "n": {"N": "2.5"}, "ok": {"BOOL": True}}], "RETURNING ALL NEW *")
    expect_error("ConditionalCheckFailedException", "The conditional request failed",
                 run, f"UPDATE \"{t}\" SET n = 1 WHERE pk = 'missing'")
    expect_error("ValidationException", "Where clause does not contain a mandatory equality on all key attributes",
                 run, f"DELETE FROM \"{t}\" WHERE n = 1")
    # The JSON API sees exactly what PartiQL wrote.
    item = ddb.get_item(TableName=t, Key={"pk": {"S": "a"}})["Item"]
    eq(item["n"], {"N": "2.5"}, "GetItem after a PartiQL update")
    run(f"DELETE FROM \"{t}\" WHERE pk = 'a'")
    expect("Item" not in ddb.get_item(TableName=t, Key={"pk": {"S": "a"}}), "deleted")


@check
def malformed_statements_and_parameters():
    t = T["items"]
    expect_error("ValidationException",
                 "Statement wasn't well formed, can't be processed: Unexpected token after expression",
                 run, f"SELECT * FROM \"{t}\" WHERE pk = 'a' pk")
    expect_error("ValidationException", "Number of parameters in request and statement don't match.",
                 run, f"SELECT * FROM \"{t}\" WHERE pk = ?")


@check
def select_pages_with_limit_and_next_token():
    t = T["sorted"]
    for i in range(5):
        run(f"INSERT INTO \"{t}\" VALUE {{'pk': 'p', 'sk': ?}}", {"N": str(i)})
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"Limit": 2}
        if token:
            kwargs["NextToken"] = token
        out = run(f"SELECT sk FROM \"{t}\" WHERE pk = 'p' ORDER BY sk DESC", **kwargs)
        pages += 1
        seen += [int(i["sk"]["N"]) for i in out["Items"]]
        token = out.get("NextToken")
        if not token:
            break
    eq(seen, [4, 3, 2, 1, 0], "all items, newest first")
    expect(pages >= 3, f"Limit 2 pages 5 items: {pages} pages")


@check
def batch_execute_statement_reports_each_statement():
    t = T["items"]
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": f"INSERT INTO \"{t}\" VALUE {{'pk': 'b1'}}"},
        {"Statement": f"INSERT INTO \"{t}\" VALUE {{'pk': 'b1'}}"},
        {"Statement": f"UPDATE \"{t}\" SET v = 1 WHERE pk = 'nobody'"},
    ])["Responses"]
    eq(len(out), 3, "one response per statement")
    expect("Error" not in out[0], f"first insert applied: {out[0]}")
    eq(out[1]["Error"]["Code"], "DuplicateItem", "duplicate insert")
    eq(out[1]["Error"]["Message"], "Duplicate primary key exists in table", "duplicate message")
    eq(out[2]["Error"]["Code"], "ConditionalCheckFailed", "update of a missing item")
    reads = ddb.batch_execute_statement(Statements=[
        {"Statement": f"SELECT * FROM \"{t}\" WHERE pk = ?", "Parameters": [{"S": "b1"}]},
        {"Statement": f"SELECT * FROM \"{t}\""},
    ])["Responses"]
    eq(reads[0].get("Item"), {"pk": {"S": "b1"}}, "read by key")
    eq(reads[1]["Error"], {"Code": "ValidationError",
                           "Message": "Select statements within BatchExecuteStatement must specify the primary key in the where clause."},
       "read without the key")


@check
def execute_transaction_all_or_nothing():
    t = T["items"]
    ddb.execute_transaction(TransactStatements=[
        {"Statement": f"INSERT INTO \"{t}\" VALUE {{'pk': 't1', 'n': 1}}"},
        {"Statement": f"INSERT INTO \"{t}\" VALUE {{'pk': 't2', 'n': 1}}"},
    ])
    e = expect_error("TransactionCanceledException",
                     "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
                     ddb.execute_transaction, TransactStatements=[
                         {"Statement": f"UPDATE \"{t}\" SET n = 5 WHERE pk = 't1'"},
                         {"Statement": f"UPDATE \"{t}\" SET n = 5 WHERE pk = 't2' AND n = 9"},
                     ])
    codes = [r["Code"] for r in e.response["CancellationReasons"]]
    eq(codes, ["None", "ConditionalCheckFailed"], "cancellation reasons")
    got = ddb.execute_transaction(TransactStatements=[
        {"Statement": f"SELECT n FROM \"{t}\" WHERE pk = 't1'"},
        {"Statement": f"SELECT n FROM \"{t}\" WHERE pk = 'none'"},
    ])["Responses"]
    eq(got, [{"Item": {"n": {"N": "1"}}}, {}], "the cancelled update changed nothing")
    eq(ddb.get_item(TableName=t, Key={"pk": {"S": "t1"}})["Item"]["n"], {"N": "1"}, "t1 unchanged")


if __name__ == "__main__":
    sys.exit(run_checks(f"PartiQL checks against {ENDPOINT} (tables {PREFIX}-*)", FILTERS, DEADLINE,
                        delete_created_tables))
