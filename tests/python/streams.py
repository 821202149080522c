#!/usr/bin/env python3
"""DynamoDB Streams through boto3's `dynamodbstreams` client.

Usage:
    python tests/python/streams.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as smoke.py: the Rust integration test (tests/e2e/python.rs)
starts Eddy on an ephemeral port and runs this with the venv made by
./tests/run.sh. It asserts what real DynamoDB Streams does (API reference, and
behaviours ScyllaDB's Alternator test suite recorded against DynamoDB), not what
any emulator does.

Output: one line per check ("ok   name (0.12s)" / "FAIL name: why"), then a
final line "N passed, M failed". Exit code 0 only if every check passed. A
failing check never stops the run. Optional NAME_FILTER arguments run only
checks whose name contains one of them (setup checks always run).

Every wait polls with a deadline (WAIT_S); nothing sleeps unbounded.

Environment: EDDY_SMOKE_REGION (default us-east-1), EDDY_SMOKE_DEADLINE
(seconds for the whole run, default 300).
"""

import datetime
import os
import re
import sys
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from checks import CheckFailed, check, eq, expect  # noqa: F401 - shared runner
from checks import run as run_checks

if len(sys.argv) < 2 or not sys.argv[1].startswith("http"):
    print(__doc__)
    print("error: missing endpoint URL argument")
    sys.exit(2)

ENDPOINT = sys.argv[1].rstrip("/")
FILTERS = sys.argv[2:]
REGION = os.environ.get("EDDY_SMOKE_REGION", "us-east-1")
DEADLINE = time.monotonic() + float(os.environ.get("EDDY_SMOKE_DEADLINE", "300"))
WAIT_S = 20.0
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
PREFIX = f"streams-{uuid.uuid4().hex[:8]}"

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)

SESSION = boto3.session.Session(
    aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
)
BASE = Config(connect_timeout=5, read_timeout=60, retries={"total_max_attempts": 2, "mode": "standard"})
RAW = Config(connect_timeout=5, read_timeout=60, parameter_validation=False, retries={"total_max_attempts": 1})
ddb = SESSION.client("dynamodb", endpoint_url=ENDPOINT, config=BASE)
res = SESSION.resource("dynamodb", endpoint_url=ENDPOINT, config=BASE)
streams = SESSION.client("dynamodbstreams", endpoint_url=ENDPOINT, config=BASE)
# No client-side validation (so the *server* must reject bad input) and no retries.
raw_streams = SESSION.client("dynamodbstreams", endpoint_url=ENDPOINT, config=RAW)

CREATED = []
S = {}  # shared state filled by setup checks


def expect_error(code, fn, *args, needles=(), **kwargs):
    """fn must fail with a 400 `code` whose message mentions every needle."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        eq(err.get("Code"), code, "error code")
        eq(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), 400, f"HTTP status of {code}")
        msg = err.get("Message") or ""
        expect(msg, f"{code} has an empty message")
        for n in needles:
            expect(n in msg, f"{code} message {msg!r} should mention {n!r}")
        return e
    raise CheckFailed(f"expected {code}, but the call succeeded")


def delete_created_tables():
    for name in CREATED:
        try:
            ddb.delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - best effort
            pass


def run_all():
    return run_checks(f"streams test against {ENDPOINT} (region {REGION}, tables {PREFIX}-*)", FILTERS, DEADLINE, delete_created_tables)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

ARN_RE = re.compile(
    r"^arn:aws:dynamodb:" + re.escape(REGION) + r":\d{12}:table/(?P<table>[A-Za-z0-9_.-]+)"
    r"/stream/(?P<label>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})$"
)


def create(role, view):
    name = f"{PREFIX}-{role}"
    kwargs = {}
    if view:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    r = ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        **kwargs,
    )
    CREATED.append(name)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return name, r["TableDescription"]


def shards(arn):
    """All shards, one DescribeStream page (Limit=1) at a time."""
    out, start = [], None
    for _ in range(1000):
        kw = {"ExclusiveStartShardId": start} if start else {}
        d = streams.describe_stream(StreamArn=arn, Limit=1, **kw)["StreamDescription"]
        expect(len(d["Shards"]) <= 1, "Limit=1 returned more than one shard")
        out.extend(d["Shards"])
        start = d.get("LastEvaluatedShardId")
        if not start:
            return out
        eq(start, out[-1]["ShardId"], "LastEvaluatedShardId")
    raise CheckFailed("DescribeStream paging did not end")


def drain(iterator, limit=None):
    """Records from `iterator` until an empty page (open shard) or the end (closed)."""
    out = []
    for _ in range(10000):
        kw = {"Limit": limit} if limit else {}
        page = streams.get_records(ShardIterator=iterator, **kw)
        expect("Records" in page, "GetRecords always returns Records")
        out.extend(page["Records"])
        nxt = page.get("NextShardIterator")
        if nxt is None or not page["Records"]:
            return out, nxt
        iterator = nxt
    raise CheckFailed("GetRecords paging did not end")


def read_all(arn):
    recs = []
    for sh in shards(arn):
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=sh["ShardId"], ShardIteratorType="TRIM_HORIZON")
        got, _ = drain(it["ShardIterator"])
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in got]
        eq(seqs, sorted(set(seqs)), f"sequence numbers strictly increase in {sh['ShardId']}")
        recs.extend(got)
    recs.sort(key=lambda r: int(r["dynamodb"]["SequenceNumber"]))
    return recs


def read_at_least(arn, n):
    deadline = time.monotonic() + WAIT_S
    while True:
        recs = read_all(arn)
        if len(recs) >= n or time.monotonic() > deadline:
            return recs
        time.sleep(0.02)


def shard_of(arn, pk, n=1):
    """(shard id, records of pk) once pk has at least n records."""
    deadline = time.monotonic() + WAIT_S
    while True:
        for sh in shards(arn):
            it = streams.get_shard_iterator(StreamArn=arn, ShardId=sh["ShardId"], ShardIteratorType="TRIM_HORIZON")
            got, _ = drain(it["ShardIterator"])
            mine = [r for r in got if r["dynamodb"]["Keys"]["pk"]["S"] == pk]
            if len(mine) >= n:
                return sh["ShardId"], mine
        expect(time.monotonic() < deadline, f"records of {pk} did not appear")
        time.sleep(0.02)


def summary(r):
    d = r["dynamodb"]
    return (r["eventName"], d["Keys"], d.get("OldImage"), d.get("NewImage"))


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------


@check(always=True)
def setup_tables():
    name, desc = create("main", "NEW_AND_OLD_IMAGES")
    arn = desc.get("LatestStreamArn")
    m = ARN_RE.match(arn or "")
    expect(m, f"LatestStreamArn {arn!r} has DynamoDB's form")
    eq(m.group("table"), name, "table in the stream ARN")
    eq(desc.get("LatestStreamLabel"), m.group("label"), "LatestStreamLabel is the ARN's label")
    eq(desc.get("StreamSpecification"), {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}, "StreamSpecification")
    S["main"], S["main_arn"] = name, arn


@check
def describe_table_reports_the_stream():
    t = ddb.describe_table(TableName=S["main"])["Table"]
    eq(t.get("LatestStreamArn"), S["main_arn"], "LatestStreamArn")
    eq(t.get("StreamSpecification", {}).get("StreamViewType"), "NEW_AND_OLD_IMAGES", "StreamViewType")


@check
def list_streams_by_table():
    r = streams.list_streams(TableName=S["main"])
    eq([s["StreamArn"] for s in r["Streams"]], [S["main_arn"]], "streams of the table")
    eq(r["Streams"][0]["TableName"], S["main"], "TableName")
    expect("LastEvaluatedStreamArn" not in r, "one page")
    expect_error("ValidationException", raw_streams.list_streams, Limit=0, needles=("limit",))
    expect_error("ValidationException", raw_streams.list_streams, Limit=101, needles=("limit",))


@check
def describe_stream_shards():
    d = streams.describe_stream(StreamArn=S["main_arn"])["StreamDescription"]
    eq(d["StreamStatus"], "ENABLED", "StreamStatus")
    eq(d["StreamViewType"], "NEW_AND_OLD_IMAGES", "StreamViewType")
    eq(d["TableName"], S["main"], "TableName")
    eq(d["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}], "KeySchema")
    expect(isinstance(d["CreationRequestDateTime"], datetime.datetime), "CreationRequestDateTime is a timestamp")
    paged = shards(S["main_arn"])
    eq(paged, d["Shards"], "Limit=1 paging gives the same shards")
    ids = [s["ShardId"] for s in paged]
    eq(ids, sorted(ids), "shards in id order")
    for s in paged:
        expect(28 <= len(s["ShardId"]) <= 65, f"ShardId {s['ShardId']} is 28-65 characters")
        start = s["SequenceNumberRange"]["StartingSequenceNumber"]
        expect(start.isdecimal() and 21 <= len(start) <= 40, f"StartingSequenceNumber {start}")
        expect("EndingSequenceNumber" not in s["SequenceNumberRange"], "open shard")
    last = streams.describe_stream(StreamArn=S["main_arn"], ExclusiveStartShardId=ids[-1])["StreamDescription"]
    eq(last["Shards"], [], "nothing after the last shard")


@check
def insert_modify_remove_records():
    table = res.Table(S["main"])
    t0 = int(time.time())
    table.put_item(Item={"pk": "a", "v": 1})
    table.put_item(Item={"pk": "a", "v": 1})  # identical: no record
    table.update_item(Key={"pk": "a"}, UpdateExpression="SET w = :w ADD v :one",
                      ExpressionAttributeValues={":w": "x", ":one": 1})
    table.update_item(Key={"pk": "a"}, UpdateExpression="SET w = :w", ExpressionAttributeValues={":w": "x"})  # no-op
    table.delete_item(Key={"pk": "a"})
    table.delete_item(Key={"pk": "a"})  # missing: no record
    try:
        table.put_item(Item={"pk": "z"}, ConditionExpression="attribute_exists(pk)")
    except ClientError as e:
        eq(e.response["Error"]["Code"], "ConditionalCheckFailedException", "failed condition")
    with table.batch_writer() as bw:
        bw.put_item(Item={"pk": "b1", "n": 1})
        bw.put_item(Item={"pk": "b2", "n": 2})
    t1 = int(time.time())
    recs = read_at_least(S["main_arn"], 5)
    S["main_records"] = recs
    a = [summary(r) for r in recs if r["dynamodb"]["Keys"]["pk"]["S"] == "a"]
    k = {"pk": {"S": "a"}}
    eq(a, [
        ("INSERT", k, None, {"pk": {"S": "a"}, "v": {"N": "1"}}),
        ("MODIFY", k, {"pk": {"S": "a"}, "v": {"N": "1"}}, {"pk": {"S": "a"}, "v": {"N": "2"}, "w": {"S": "x"}}),
        ("REMOVE", k, {"pk": {"S": "a"}, "v": {"N": "2"}, "w": {"S": "x"}}, None),
    ], "records of a")
    b = sorted(summary(r)[0] + ":" + r["dynamodb"]["Keys"]["pk"]["S"] for r in recs if r["dynamodb"]["Keys"]["pk"]["S"] != "a")
    eq(b, ["INSERT:b1", "INSERT:b2"], "BatchWriteItem records")
    eq(len(recs), 5, "no record for no-op or failed writes")
    ids = set()
    for r in recs:
        expect(r["eventID"] not in ids, "eventID unique")
        ids.add(r["eventID"])
        eq(r["eventVersion"], "1.1", "eventVersion")
        eq(r["eventSource"], "aws:dynamodb", "eventSource")
        eq(r["awsRegion"], REGION, "awsRegion")
        d = r["dynamodb"]
        ts = d["ApproximateCreationDateTime"]
        expect(isinstance(ts, datetime.datetime), "ApproximateCreationDateTime parses as a timestamp")
        eq(ts.microsecond, 0, "ApproximateCreationDateTime is whole seconds")
        expect(t0 - 1 <= ts.timestamp() <= t1 + 1, f"ApproximateCreationDateTime {ts} is now")
        sn = d["SequenceNumber"]
        expect(sn.isdecimal() and 21 <= len(sn) <= 40, f"SequenceNumber {sn}")
        expect(d["SizeBytes"] > 0, "SizeBytes")
        eq(d["StreamViewType"], "NEW_AND_OLD_IMAGES", "StreamViewType")


@check
def iterator_types_and_paging():
    table = res.Table(S["main"])
    for i in range(7):
        table.put_item(Item={"pk": "it", "i": i})
    arn = S["main_arn"]
    shard, mine = shard_of(arn, "it", 7)
    seqs = [r["dynamodb"]["SequenceNumber"] for r in mine]

    def seqs_from(kind, seq=None, limit=None):
        kw = {"SequenceNumber": seq} if seq else {}
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **kw)["ShardIterator"]
        got, nxt = drain(it, limit)
        expect(nxt is not None, "an open shard always gives NextShardIterator")
        return [r["dynamodb"]["SequenceNumber"] for r in got if r["dynamodb"]["Keys"]["pk"]["S"] == "it"]

    eq(seqs_from("TRIM_HORIZON", limit=2), seqs, "TRIM_HORIZON with Limit=2 pages")
    eq(seqs_from("AT_SEQUENCE_NUMBER", seqs[3]), seqs[3:], "AT_SEQUENCE_NUMBER")
    eq(seqs_from("AFTER_SEQUENCE_NUMBER", seqs[3]), seqs[4:], "AFTER_SEQUENCE_NUMBER")
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    page = streams.get_records(ShardIterator=latest)
    eq(page["Records"], [], "LATEST starts after the newest record")
    expect("NextShardIterator" in page, "NextShardIterator on an open shard with nothing new")
    table.put_item(Item={"pk": "it", "i": 100})
    got, _ = drain(page["NextShardIterator"])
    eq([r["dynamodb"]["NewImage"]["i"] for r in got], [{"N": "100"}], "LATEST then sees the next write")
    for bad in (0, 1001):
        expect_error("ValidationException", raw_streams.get_records, ShardIterator=latest, Limit=bad, needles=("limit",))
    expect_error("ValidationException", streams.get_shard_iterator, StreamArn=arn, ShardId=shard,
                 ShardIteratorType="AT_SEQUENCE_NUMBER", needles=("SequenceNumber",))
    expect_error("ValidationException", streams.get_shard_iterator, StreamArn=arn, ShardId=shard,
                 ShardIteratorType="LATEST", SequenceNumber=seqs[0], needles=("SequenceNumber",))


@check
def disable_reenable_closes_and_creates_streams():
    name, desc = create("life", "KEYS_ONLY")
    old = desc["LatestStreamArn"]
    t = res.Table(name)
    for i in range(3):
        t.put_item(Item={"pk": f"p{i}"})
    expect(len(read_at_least(old, 3)) == 3, "three records before disabling")
    expect_error("ValidationException", ddb.update_table, TableName=name,
                 StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                 needles=("Table already has an enabled stream", name))
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    expect_error("ValidationException", ddb.update_table, TableName=name,
                 StreamSpecification={"StreamEnabled": False}, needles=(name,))
    d = streams.describe_stream(StreamArn=old)["StreamDescription"]
    eq(d["StreamStatus"], "DISABLED", "old stream status")
    total = 0
    for sh in d["Shards"]:
        expect("EndingSequenceNumber" in sh["SequenceNumberRange"], "closed shard has EndingSequenceNumber")
        it = streams.get_shard_iterator(StreamArn=old, ShardId=sh["ShardId"], ShardIteratorType="TRIM_HORIZON")
        got, nxt = drain(it["ShardIterator"], 1)
        expect(nxt is None, "no NextShardIterator once a closed shard is drained")
        total += len(got)
    eq(total, 3, "the closed stream is still readable")
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    new = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    expect(new != old and ARN_RE.match(new), f"a new stream: {new}")
    eq(ARN_RE.match(new).group("table"), name, "table in the new ARN")
    arns = [s["StreamArn"] for s in streams.list_streams(TableName=name)["Streams"]]
    eq(arns, [old, new], "both streams listed, oldest first")
    # Paging over every stream, one per page, reaches both.
    seen, start = [], None
    for _ in range(1000):
        kw = {"ExclusiveStartStreamArn": start} if start else {}
        r = streams.list_streams(Limit=1, **kw)
        seen += [s["StreamArn"] for s in r["Streams"]]
        start = r.get("LastEvaluatedStreamArn")
        if not start:
            break
    expect(old in seen and new in seen and S["main_arn"] in seen, "ListStreams paging reaches every stream")
    eq(len(seen), len(set(seen)), "each stream listed once")


@check
def errors():
    arn = S["main_arn"]
    shard = shards(arn)[0]["ShardId"]
    bad = "sdfadfsdfnlfkajakfgjalksfgklasjklasdjfklasdfasdfgasf"
    expect_error("ValidationException", raw_streams.describe_stream, StreamArn=bad, needles=("StreamArn",))
    unknown = arn.replace(f"table/{S['main']}/", "table/no-such-table/")
    expect_error("ResourceNotFoundException", streams.describe_stream, StreamArn=unknown, needles=(unknown,))
    missing_shard = "shardId-00000000000000000000-ffffffffffff"
    expect_error("ResourceNotFoundException", streams.get_shard_iterator, StreamArn=arn, ShardId=missing_shard,
                 ShardIteratorType="LATEST", needles=(missing_shard,))
    expect_error("ValidationException", streams.get_records, ShardIterator="sdfsdfsgagaddafgagasgasgasdfasdf",
                 needles=("ShardIterator",))
    expect_error("ValidationException", raw_streams.get_shard_iterator, StreamArn=arn, ShardId=shard,
                 ShardIteratorType="bulle", needles=("bulle",))


if __name__ == "__main__":
    sys.exit(run_all())
