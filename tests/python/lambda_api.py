#!/usr/bin/env python3
"""Lambda's API on Eddy's port: boto3's `lambda` client and `aws lambda` drive Eddy's
functions and triggers unchanged (CreateFunction from a plain .wasm and from a zip,
GetFunction, GetFunctionConfiguration, ListFunctions with paging, UpdateFunctionCode,
Invoke with its function-error and log headers, DeleteFunction, and the event-source
mapping operations), with Lambda's error codes, statuses and messages.

Usage:
    python tests/python/lambda_api.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as smoke.py: the Rust integration test (tests/e2e/python.rs) starts
Eddy on an ephemeral port and runs this with the venv made by ./tests/run.sh.

Environment: EDDY_TEST_GUESTS_DIR (the built test guests: recorder.wasm, fail_on.wasm,
noop.wasm), EDDY_TEST_AWS (the aws CLI), EDDY_ADMIN_ID / EDDY_ADMIN_SECRET (an
administrator's key, for a server with --auth sigv4; default: any key), EDDY_KEY_ID /
EDDY_KEY_SECRET (a key whose user may only use DynamoDB: its Lambda calls must be
refused), EDDY_SMOKE_REGION, EDDY_SMOKE_DEADLINE.
"""

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile

import boto3
from botocore.exceptions import ClientError
from checks import NO_RETRIES, NO_VALIDATION, CheckFailed, check, eq, expect, signed
from checks import run as run_checks

SUITE = signed(__doc__)
ENDPOINT, FILTERS, REGION, DEADLINE = SUITE.endpoint, SUITE.filters, SUITE.region, SUITE.deadline
ADMIN_ID, ADMIN_SECRET = SUITE.key_id, SUITE.secret
PREFIX = f"lam-{uuid.uuid4().hex[:8]}"
GUESTS = os.environ.get("EDDY_TEST_GUESTS_DIR", "")
SESSION = SUITE.session
BASE, RAW = NO_RETRIES, NO_VALIDATION
ddb = SESSION.client("dynamodb", endpoint_url=ENDPOINT, config=BASE)
lam = SESSION.client("lambda", endpoint_url=ENDPOINT, config=BASE)
raw = SESSION.client("lambda", endpoint_url=ENDPOINT, config=RAW)
ROLE = "arn:aws:iam::000000000000:role/service-role/handler"
CREATED_TABLES = []
CREATED_FUNCTIONS = []


def guest(name):
    path = os.path.join(GUESTS, f"{name}.wasm")
    if not os.path.isfile(path):
        raise CheckFailed(f"test guest {path} is missing: set EDDY_TEST_GUESTS_DIR (tests/run.sh builds them)")
    with open(path, "rb") as f:
        return f.read()


def name(suffix):
    return f"{PREFIX}-{suffix}"


def zipped(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for entry, data in entries:
            z.writestr(entry, data)
    return buf.getvalue()


def refused(call, code, status, message=None, contains=None):
    """`call()` must fail with Lambda's `code`, HTTP `status` and message."""
    try:
        call()
    except ClientError as e:
        err = e.response["Error"]
        eq(err["Code"], code, "error code")
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], status, "HTTP status")
        eq(e.response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype"), code,
           "x-amzn-ErrorType header")
        if message is not None:
            eq(err["Message"], message, "message")
        if contains is not None:
            expect(contains in err["Message"], f"{contains!r} not in {err['Message']!r}")
        return err
    raise CheckFailed(f"expected {code}, the call succeeded")


def create(fn, code, tables=(), **extra):
    tags = {"eddy:tables": " ".join(tables)} if tables else {}
    tags.update(extra.pop("Tags", {}))
    out = lam.create_function(FunctionName=fn, Role=ROLE, Runtime="provided.al2023",
                              Handler="handler", Code={"ZipFile": code}, Tags=tags, **extra)
    CREATED_FUNCTIONS.append(fn)
    return out


def table_with_stream(suffix):
    t = name(suffix)
    ddb.create_table(TableName=t, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    CREATED_TABLES.append(t)
    return t, ddb.describe_table(TableName=t)["Table"]


@check
def create_function_from_a_plain_wasm_and_read_it_back():
    wasm = guest("recorder")
    fn = name("plain")
    out = create(fn, wasm, Timeout=7, MemorySize=256, Description="records",
                 Environment={"Variables": {"table": "nowhere"}}, Tags={"team": "billing"})
    eq(out["ResponseMetadata"]["HTTPStatusCode"], 201, "CreateFunction's status")
    eq(out["FunctionName"], fn, "FunctionName")
    expect(out["FunctionArn"].startswith(f"arn:aws:lambda:{REGION}:") and
           out["FunctionArn"].endswith(f":function:{fn}"), out["FunctionArn"])
    eq(out["CodeSha256"], base64.b64encode(hashlib.sha256(wasm).digest()).decode(), "CodeSha256")
    eq(out["CodeSize"], len(wasm), "CodeSize")
    eq((out["Timeout"], out["MemorySize"]), (7, 256), "Timeout and MemorySize")
    eq((out["Runtime"], out["Role"], out["Handler"]), ("provided.al2023", ROLE, "handler"), "echoed members")
    eq((out["State"], out["LastUpdateStatus"], out["Version"]), ("Active", "Successful", "$LATEST"), "state")
    eq(out["Environment"], {"Variables": {"table": "nowhere"}}, "Environment")
    got = lam.get_function(FunctionName=fn)
    eq(got["Configuration"]["CodeSha256"], out["CodeSha256"], "GetFunction's CodeSha256")
    eq(got["Configuration"]["Description"], "records", "Description")
    eq(got["Tags"], {"team": "billing"}, "Tags")
    # By ARN, and with the deployed version or $LATEST as qualifier.
    eq(lam.get_function(FunctionName=out["FunctionArn"])["Configuration"]["FunctionName"], fn, "by ARN")
    conf = lam.get_function_configuration(FunctionName=fn, Qualifier="$LATEST")
    eq(conf["RevisionId"], out["RevisionId"], "GetFunctionConfiguration")
    refused(lambda: lam.get_function(FunctionName=fn, Qualifier="41"), "ResourceNotFoundException", 404,
            message=f"Function not found: {out['FunctionArn']}:41")


@check
def create_function_from_a_zip_and_the_refusals_of_bad_code():
    fn = name("zipped")
    package = zipped([("README.md", "docs"), ("dist/fail_on.wasm", guest("fail_on"))])
    out = create(fn, package)
    eq(out["CodeSha256"], base64.b64encode(hashlib.sha256(package).digest()).decode(),
       "CodeSha256 is the package's, as Lambda's")
    refused(lambda: create(fn, guest("noop")), "ResourceConflictException", 409,
            message=f"Function already exist: {fn}")
    refused(lambda: create(name("nowasm"), zipped([("index.py", "def handler(e, c): pass")])),
            "InvalidParameterValueException", 400, contains="the zip holds no .wasm file")
    two = zipped([("a.wasm", guest("noop")), ("b.wasm", guest("noop"))])
    refused(lambda: create(name("two"), two), "InvalidParameterValueException", 400,
            contains="name the one to deploy in Handler")
    # Handler names the entry among several.
    eq(lam.create_function(FunctionName=name("two"), Role=ROLE, Handler="b.wasm",
                           Code={"ZipFile": two})["FunctionName"], name("two"), "Handler picks the entry")
    CREATED_FUNCTIONS.append(name("two"))
    broken = bytearray(package)
    broken[-30:] = b"\0" * 30
    refused(lambda: create(name("broken"), bytes(broken)), "InvalidParameterValueException", 400,
            contains="Could not unzip uploaded file. Please check your file, then try to upload again.")
    refused(lambda: create(name("notwasm"), b"plain text"), "InvalidParameterValueException", 400,
            contains="not a WebAssembly binary")
    refused(lambda: raw.create_function(FunctionName=name("s3"), Role=ROLE,
                                        Code={"S3Bucket": "b", "S3Key": "k"}),
            "InvalidParameterValueException", 400, contains="does not read code from S3")
    refused(lambda: raw.create_function(FunctionName=name("t0"), Role=ROLE, Timeout=0,
                                        Code={"ZipFile": guest("noop")}),
            "ValidationException", 400,
            message="1 validation error detected: Value '0' at 'timeout' failed to satisfy "
                    "constraint: Member must have value greater than or equal to 1")
    refused(lambda: create(name("typo"), guest("noop"), Tags={"eddy:table": "x"}),
            "InvalidParameterValueException", 400, contains="Tags.eddy:table: unknown Eddy grant")
    # None of the refused functions exists.
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    for n in ("nowasm", "broken", "notwasm", "s3", "t0", "typo"):
        expect(name(n) not in names, f"{name(n)} was created")


@check
def two_creates_of_one_name_at_once_deploy_one():
    import threading

    fn = name("race")
    results = []

    def attempt():
        try:
            lam.create_function(FunctionName=fn, Role=ROLE, Code={"ZipFile": guest("noop")})
            results.append("created")
        except ClientError as e:
            results.append(e.response["Error"]["Code"])

    # Two: the server takes two uploads at once by default, a third would be throttled.
    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    CREATED_FUNCTIONS.append(fn)
    eq(sorted(results), ["ResourceConflictException", "created"], "one create wins")
    eq(lam.get_function(FunctionName=fn)["Configuration"]["RevisionId"], "1", "deployed once")


@check
def list_functions_pages_with_marker_and_max_items():
    for i in range(3):
        create(name(f"page{i}"), guest("noop"))
    pages, marker = [], None
    while True:
        kwargs = {"MaxItems": 2, **({"Marker": marker} if marker else {})}
        page = lam.list_functions(**kwargs)
        expect(len(page["Functions"]) <= 2, f"a page of {len(page['Functions'])}")
        pages.extend(f["FunctionName"] for f in page["Functions"])
        marker = page.get("NextMarker")
        if not marker:
            break
    eq(len(pages), len(set(pages)), "no function twice")
    for i in range(3):
        expect(name(f"page{i}") in pages, f"{name(f'page{i}')} listed")
    all_pages = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 1}) for f in p["Functions"]]
    eq(all_pages, pages, "boto3's paginator sees the same list")


@check
def invoke_answers_the_response_the_function_error_and_the_log_tail():
    fn = name("inv")
    create(fn, guest("fail_on"), Environment={"Variables": {"mode": "error"}})
    out = lam.invoke(FunctionName=fn, Payload=json.dumps({"Records": []}), LogType="Tail")
    eq(out["StatusCode"], 200, "a failed function still answers 200")
    eq(out.get("FunctionError"), "Unhandled", "X-Amz-Function-Error")
    body = json.loads(out["Payload"].read())
    eq(body["errorType"], "FunctionError", "errorType")
    expect("fail-on: mode=error" in body["errorMessage"], body)
    log = base64.b64decode(out["LogResult"]).decode()
    expect("REPORT Duration:" in log, log)
    eq(out["ExecutedVersion"], "$LATEST", "ExecutedVersion")

    ok = name("inv-ok")
    create(ok, guest("fail_on"))
    out = lam.invoke(FunctionName=ok, Payload=json.dumps({"Records": []}))
    eq(out["StatusCode"], 200, "status")
    expect("FunctionError" not in out, out)
    eq(json.loads(out["Payload"].read()), {"batchItemFailures": []}, "the function's response")
    eq(lam.invoke(FunctionName=ok, InvocationType="DryRun")["StatusCode"], 204, "DryRun")
    eq(lam.invoke(FunctionName=ok, InvocationType="Event", Payload=b"{}")["StatusCode"], 202, "Event")
    refused(lambda: lam.invoke(FunctionName=ok, Payload=b"{not json"),
            "InvalidRequestContentException", 400,
            contains="Could not parse request body into json: Could not parse payload into json")
    refused(lambda: lam.invoke(FunctionName=name("absent"), Payload=b"{}"),
            "ResourceNotFoundException", 404, contains=f"Function not found: arn:aws:lambda:{REGION}:")


@check
def a_grant_from_the_eddy_tables_tag_lets_the_function_write():
    t, _ = table_with_stream("granted")
    fn = name("granted")
    create(fn, guest("recorder"), tables=[t], Environment={"Variables": {"table": t}})
    event = {"Records": [{
        "eventID": "e-1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": REGION, "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/x/stream/1",
        "dynamodb": {"Keys": {"id": {"S": "k"}}, "NewImage": {"id": {"S": "k"}},
                     "SequenceNumber": "100", "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }]}
    out = lam.invoke(FunctionName=fn, Payload=json.dumps(event))
    expect("FunctionError" not in out, out["Payload"].read())
    item = ddb.get_item(TableName=t, Key={"id": {"S": "e-1"}}).get("Item")
    expect(item is not None and item["eventName"]["S"] == "INSERT", item)
    # Without the grant the same write is refused, as a function's role would refuse it.
    bare = name("bare")
    create(bare, guest("recorder"), Environment={"Variables": {"table": t}})
    out = lam.invoke(FunctionName=bare, Payload=json.dumps(event))
    eq(out.get("FunctionError"), "Unhandled", "a write without the grant fails the function")


@check
def update_function_code_deploys_new_code_with_the_same_configuration():
    fn = name("upd")
    first = create(fn, guest("noop"), Timeout=9)
    new = guest("fail_on")
    refused(lambda: lam.update_function_code(FunctionName=fn, ZipFile=new, RevisionId="999"),
            "PreconditionFailedException", 412)
    out = lam.update_function_code(FunctionName=fn, ZipFile=new, RevisionId=first["RevisionId"])
    eq(out["CodeSha256"], base64.b64encode(hashlib.sha256(new).digest()).decode(), "new CodeSha256")
    eq(out["Timeout"], 9, "the configuration stays")
    expect(out["RevisionId"] != first["RevisionId"], "a new revision")


@check
def event_source_mappings_deliver_a_tables_stream_to_the_function():
    src, desc = table_with_stream("src")
    out_table, _ = table_with_stream("out")
    fn = name("esm")
    f = create(fn, guest("recorder"), tables=[out_table], Environment={"Variables": {"table": out_table}})
    stream = desc["LatestStreamArn"]
    m = lam.create_event_source_mapping(
        FunctionName=f["FunctionArn"], EventSourceArn=stream, StartingPosition="TRIM_HORIZON",
        BatchSize=10, MaximumRetryAttempts=2, BisectBatchOnFunctionError=True,
        MaximumBatchingWindowInSeconds=0,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]})
    eq(m["ResponseMetadata"]["HTTPStatusCode"], 202, "CreateEventSourceMapping's status")
    uid = m["UUID"]
    eq((m["FunctionArn"], m["EventSourceArn"], m["BatchSize"], m["MaximumRetryAttempts"],
        m["BisectBatchOnFunctionError"], m["StartingPosition"]),
       (f["FunctionArn"], stream, 10, 2, True, "TRIM_HORIZON"), "the mapping's members")
    got = lam.get_event_source_mapping(UUID=uid)
    eq(got["FilterCriteria"], {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]}, "filters")
    ddb.put_item(TableName=src, Item={"id": {"S": "a"}})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        seen = ddb.scan(TableName=out_table).get("Items", [])
        if seen:
            break
        time.sleep(0.1)
    expect(seen and seen[0]["newImage"]["M"]["id"]["S"] == "a", f"the record was not handled: {seen}")
    listed = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    eq([x["UUID"] for x in listed], [uid], "listed by function name")
    listed = lam.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]
    eq([x["UUID"] for x in listed], [uid], "listed by stream")
    up = lam.update_event_source_mapping(UUID=uid, BatchSize=5, Enabled=False)
    eq(up["ResponseMetadata"]["HTTPStatusCode"], 202, "UpdateEventSourceMapping's status")
    # Lambda answers with the transition it has begun; a read shows it done.
    eq((up["BatchSize"], up["State"]), (5, "Disabling"), "updated")
    eq(lam.get_event_source_mapping(UUID=uid)["State"], "Disabled", "disabled")
    eq(lam.update_event_source_mapping(UUID=uid, BatchSize=6)["State"], "Updating", "a change")
    eq(lam.update_event_source_mapping(UUID=uid, Enabled=True)["State"], "Enabling", "enabling")
    eq(lam.get_event_source_mapping(UUID=uid)["State"], "Enabled", "enabled")
    refused(lambda: lam.get_event_source_mapping(UUID=str(uuid.uuid4())), "ResourceNotFoundException", 404,
            message="The resource you requested does not exist.")
    refused(lambda: lam.update_event_source_mapping(UUID=str(uuid.uuid4()), BatchSize=5),
            "ResourceNotFoundException", 404, message="The resource you requested does not exist.")
    refused(lambda: lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream,
                                                    StartingPosition="LATEST", Queues=["q"]),
            "InvalidParameterValueException", 400, contains="Queues: ")
    refused(lambda: raw.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream,
                                                    StartingPosition="LATEST", BatchSize=0),
            "InvalidParameterValueException", 400, contains="BatchSize")
    refused(lambda: lam.create_event_source_mapping(FunctionName=name("absent"), EventSourceArn=stream,
                                                    StartingPosition="LATEST"),
            "ResourceNotFoundException", 404, contains="Function not found")
    gone = lam.delete_event_source_mapping(UUID=uid)
    eq(gone["ResponseMetadata"]["HTTPStatusCode"], 202, "DeleteEventSourceMapping's status")
    eq(gone["State"], "Deleting", "state")
    refused(lambda: lam.get_event_source_mapping(UUID=uid), "ResourceNotFoundException", 404)


@check
def delete_function_then_it_is_gone():
    fn = name("del")
    create(fn, guest("noop"))
    out = lam.delete_function(FunctionName=fn)
    eq(out["ResponseMetadata"]["HTTPStatusCode"], 204, "DeleteFunction's status")
    refused(lambda: lam.get_function(FunctionName=fn), "ResourceNotFoundException", 404,
            contains="Function not found: arn:aws:lambda:")
    refused(lambda: lam.delete_function(FunctionName=fn), "ResourceNotFoundException", 404)


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


def aws(*args, key=(ADMIN_ID, ADMIN_SECRET), ok=True):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key[0], AWS_SECRET_ACCESS_KEY=key[1],
               AWS_DEFAULT_REGION=REGION, AWS_MAX_ATTEMPTS="1")
    cmd = [aws_cli_path(), "lambda", *args, "--endpoint-url", ENDPOINT, "--output", "json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    if ok:
        expect(p.returncode == 0, f"aws lambda {' '.join(args)}: {p.stderr}")
        return json.loads(p.stdout) if p.stdout.strip() else None
    return p


@check
def the_aws_cli_drives_functions_and_mappings():
    fn = name("cli")
    src, desc = table_with_stream("cli")
    with tempfile.TemporaryDirectory() as d:
        # The aws CLI checks that --zip-file is a zip before it sends it (boto3 sends a
        # .wasm as it is).
        path = os.path.join(d, "f.zip")
        with open(path, "wb") as f:
            f.write(zipped([("fail_on.wasm", guest("fail_on"))]))
        out = aws("create-function", "--function-name", fn, "--role", ROLE, "--runtime", "provided.al2023",
                  "--handler", "handler", "--zip-file", f"fileb://{path}", "--timeout", "5")
        CREATED_FUNCTIONS.append(fn)
        eq(out["FunctionName"], fn, "create-function")
        eq(aws("get-function", "--function-name", fn)["Configuration"]["Timeout"], 5, "get-function")
        names = [f["FunctionName"] for f in aws("list-functions")["Functions"]]
        expect(fn in names, "list-functions")
        result = os.path.join(d, "out.json")
        out = aws("invoke", "--function-name", fn, "--payload", '{"Records": []}', result)
        eq(out["StatusCode"], 200, "invoke")
        with open(result) as f:
            eq(json.load(f), {"batchItemFailures": []}, "invoke's output file")
    m = aws("create-event-source-mapping", "--function-name", fn, "--event-source-arn",
            desc["LatestStreamArn"], "--starting-position", "LATEST", "--batch-size", "3")
    eq(m["BatchSize"], 3, "create-event-source-mapping")
    eq(aws("get-event-source-mapping", "--uuid", m["UUID"])["UUID"], m["UUID"], "get-event-source-mapping")
    listed = aws("list-event-source-mappings", "--function-name", fn)["EventSourceMappings"]
    eq([x["UUID"] for x in listed], [m["UUID"]], "list-event-source-mappings")
    eq(aws("update-event-source-mapping", "--uuid", m["UUID"], "--maximum-retry-attempts", "4")
       ["MaximumRetryAttempts"], 4, "update-event-source-mapping")
    eq(aws("delete-event-source-mapping", "--uuid", m["UUID"])["State"], "Deleting",
       "delete-event-source-mapping")
    aws("delete-function", "--function-name", fn)
    p = aws("get-function", "--function-name", fn, ok=False)
    expect(p.returncode != 0 and "ResourceNotFoundException" in p.stderr and "Function not found" in p.stderr,
           p.stderr)


@check
def a_users_key_is_held_to_lambda_actions():
    key_id, secret = os.environ.get("EDDY_KEY_ID"), os.environ.get("EDDY_KEY_SECRET")
    if not key_id:
        return  # Only on a server that verifies signatures (tests/e2e/python.rs).
    user = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret,
                                 region_name=REGION).client("lambda", endpoint_url=ENDPOINT, config=BASE)
    err = refused(lambda: user.list_functions(), "AccessDeniedException", 403)
    expect("lambda:ListFunctions" in err["Message"], err["Message"])
    err = refused(lambda: user.invoke(FunctionName="anything", Payload=b"{}"), "AccessDeniedException", 403)
    expect("lambda:InvokeFunction" in err["Message"] and ":function:anything" in err["Message"], err["Message"])
    stranger = boto3.session.Session(aws_access_key_id="AKIDNOBODY", aws_secret_access_key="x" * 40,
                                     region_name=REGION).client("lambda", endpoint_url=ENDPOINT, config=BASE)
    refused(lambda: stranger.list_functions(), "UnrecognizedClientException", 403,
            message="The security token included in the request is invalid.")
    p = aws("list-functions", key=(key_id, secret), ok=False)
    expect(p.returncode != 0 and "AccessDeniedException" in p.stderr, p.stderr)


@check
def the_audit_log_records_lambda_changes():
    path = os.environ.get("EDDY_AUDIT_LOG")
    if not path:
        return  # Only on a server started with --audit-log (tests/e2e/python.rs).
    fn = name("audited")
    arn = create(fn, guest("noop"))["FunctionArn"]
    lam.invoke(FunctionName=fn, Payload=b"{}")
    lam.delete_function(FunctionName=fn)
    refused(lambda: lam.delete_function(FunctionName=fn), "ResourceNotFoundException", 404)
    wanted = [("lambda:CreateFunction", 201), ("lambda:DeleteFunction", 204), ("lambda:DeleteFunction", 404)]
    deadline = time.monotonic() + 5
    while True:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        seen = [(x["action"], x.get("status")) for x in lines if x.get("resource") == arn]
        if seen == wanted or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    eq(seen, wanted, "the audit log's lines for the function (Invoke is not a change)")
    expect(all(x["event"] == "change" for x in lines if x.get("resource") == arn), lines)


def cleanup():
    for fn in CREATED_FUNCTIONS:
        try:
            lam.delete_function(FunctionName=fn)
        except ClientError:
            pass
    for t in CREATED_TABLES:
        try:
            ddb.delete_table(TableName=t)
        except ClientError:
            pass


if __name__ == "__main__":
    sys.exit(run_checks(f"Lambda API test against {ENDPOINT} (region {REGION}, names {PREFIX}-*)",
                        FILTERS, DEADLINE, cleanup))
