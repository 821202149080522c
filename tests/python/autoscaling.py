#!/usr/bin/env python3
"""Auto scaling through Application Auto Scaling's own protocol on Eddy's port:
boto3's `application-autoscaling` client and `aws application-autoscaling`, against
DynamoDB tables and global secondary indexes made with boto3.

Usage:
    python tests/python/autoscaling.py http://127.0.0.1:PORT [NAME_FILTER...]

Same conventions as smoke.py: the Rust integration test (tests/e2e/python.rs)
starts Eddy on an ephemeral port and runs this with the venv made by
./tests/run.sh. Every refusal is checked for its error code, HTTP status and exact
message.

Environment: EDDY_ADMIN_ID / EDDY_ADMIN_SECRET (an administrator's key, for a server
with --auth sigv4; default: any key), EDDY_KEY_ID / EDDY_KEY_SECRET (a key that is
not an administrator's and whose user may only use DynamoDB: its auto scaling calls
must be refused), EDDY_TEST_AWS (the aws CLI), EDDY_SMOKE_REGION, EDDY_SMOKE_DEADLINE.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid

import boto3
from botocore.exceptions import ClientError
from checks import NO_RETRIES, NO_VALIDATION, CheckFailed, check, eq, expect, signed
from checks import run as run_checks

SUITE = signed(__doc__)
ENDPOINT, FILTERS, REGION, DEADLINE = SUITE.endpoint, SUITE.filters, SUITE.region, SUITE.deadline
ADMIN_ID, ADMIN_SECRET = SUITE.key_id, SUITE.secret
PREFIX = f"scale-{uuid.uuid4().hex[:8]}"
SESSION = SUITE.session
BASE, RAW = NO_RETRIES, NO_VALIDATION
ddb = SESSION.client("dynamodb", endpoint_url=ENDPOINT, config=BASE)
aas = SESSION.client("application-autoscaling", endpoint_url=ENDPOINT, config=BASE)
raw = SESSION.client("application-autoscaling", endpoint_url=ENDPOINT, config=RAW)

CREATED = []
WRITE = "dynamodb:table:WriteCapacityUnits"
READ = "dynamodb:table:ReadCapacityUnits"
INDEX_READ = "dynamodb:index:ReadCapacityUnits"


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


def table(suffix, units=5):
    """A provisioned table with a global index `byG`, both at `units`."""
    name = f"{PREFIX}-{suffix}"
    tp = {"ReadCapacityUnits": units, "WriteCapacityUnits": units}
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        ProvisionedThroughput=tp,
        GlobalSecondaryIndexes=[{
            "IndexName": "byG",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": tp,
        }],
    )
    CREATED.append(name)
    return name


def policy_config(target=50, metric="DynamoDBWriteCapacityUtilization", **extra):
    return {"TargetValue": target,
            "PredefinedMetricSpecification": {"PredefinedMetricType": metric}, **extra}


def cleanup():
    for name in CREATED:
        try:
            ddb.delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - best effort
            pass


@check
def register_clamps_and_describes():
    name = table("reg")
    rid = f"table/{name}"
    out = aas.register_scalable_target(ServiceNamespace="dynamodb", ResourceId=rid,
                                       ScalableDimension=WRITE, MinCapacity=10, MaxCapacity=50)
    expect(out["ScalableTargetARN"].startswith("arn:aws:application-autoscaling:"), str(out))
    aas.register_scalable_target(ServiceNamespace="dynamodb", ResourceId=f"{rid}/index/byG",
                                 ScalableDimension=INDEX_READ, MinCapacity=1, MaxCapacity=2)
    t = ddb.describe_table(TableName=name)["Table"]
    eq(t["ProvisionedThroughput"]["WriteCapacityUnits"], 10, "table writes raised to the minimum")
    eq(t["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["ReadCapacityUnits"], 2,
       "index reads lowered to the maximum")
    got = aas.describe_scalable_targets(ServiceNamespace="dynamodb", ResourceIds=[rid])
    eq([(s["ResourceId"], s["ScalableDimension"], s["MinCapacity"], s["MaxCapacity"])
        for s in got["ScalableTargets"]], [(rid, WRITE, 10, 50)], "targets of the table")
    got = aas.describe_scalable_targets(ServiceNamespace="dynamodb", ScalableDimension=INDEX_READ)
    expect(any(s["ResourceId"] == f"{rid}/index/byG" for s in got["ScalableTargets"]), str(got))
    # Another namespace has nothing of Eddy's.
    eq(aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"], [], "ecs")
    # Registering again changes only what it names.
    aas.register_scalable_target(ServiceNamespace="dynamodb", ResourceId=rid,
                                 ScalableDimension=WRITE, MaxCapacity=80)
    s = aas.describe_scalable_targets(ServiceNamespace="dynamodb", ResourceIds=[rid])["ScalableTargets"][0]
    eq((s["MinCapacity"], s["MaxCapacity"]), (10, 80), "min kept, max changed")
    acts = aas.describe_scaling_activities(ServiceNamespace="dynamodb", ResourceId=rid)["ScalingActivities"]
    eq(acts[0]["Description"], "Setting write capacity units to 10.", "the clamp's activity")
    eq(acts[0]["StatusCode"], "Successful", "activity status")
    eq(acts[0]["Cause"], "minimum capacity was set to 10", "activity cause")
    eq(acts[0]["StatusMessage"],
       "Successfully set write capacity units to 10. Change successfully fulfilled by dynamodb.",
       "activity status message")
    acts = aas.describe_scaling_activities(ServiceNamespace="dynamodb",
                                           ResourceId=f"{rid}/index/byG")["ScalingActivities"]
    eq([(a["Description"], a["Cause"]) for a in acts],
       [("Setting read capacity units to 2.", "maximum capacity was set to 2")], "the index's activity")


@check
def policies_put_describe_delete():
    name = table("pol")
    rid = f"table/{name}"
    aas.register_scalable_target(ServiceNamespace="dynamodb", ResourceId=rid,
                                 ScalableDimension=WRITE, MinCapacity=5, MaxCapacity=100)
    arn = aas.put_scaling_policy(
        PolicyName="w", ServiceNamespace="dynamodb", ResourceId=rid, ScalableDimension=WRITE,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=policy_config(70, ScaleInCooldown=30,
                                                               DisableScaleIn=True))["PolicyARN"]
    expect(arn.endswith(f":resource/dynamodb/{rid}:policyName/w"), arn)
    # Putting it again keeps its ARN.
    again = aas.put_scaling_policy(
        PolicyName="w", ServiceNamespace="dynamodb", ResourceId=rid, ScalableDimension=WRITE,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=policy_config(60))["PolicyARN"]
    eq(again, arn, "PolicyARN of the same policy")
    ps = aas.describe_scaling_policies(ServiceNamespace="dynamodb", ResourceId=rid,
                                       PolicyNames=["w"])["ScalingPolicies"]
    eq(len(ps), 1, "one policy")
    eq(ps[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"], 60.0, "TargetValue")
    eq(ps[0]["PolicyType"], "TargetTrackingScaling", "PolicyType")
    refused("ValidationException",
            "Only one TargetTrackingScaling policy for a given metric specification is allowed.",
            aas.put_scaling_policy, PolicyName="w2", ServiceNamespace="dynamodb", ResourceId=rid,
            ScalableDimension=WRITE, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=policy_config(50))
    aas.delete_scaling_policy(PolicyName="w", ServiceNamespace="dynamodb", ResourceId=rid,
                              ScalableDimension=WRITE)
    refused("ObjectNotFoundException",
            f"No scaling policy found for service namespace: dynamodb, resource ID: {rid}, "
            f"scalable dimension: {WRITE}, policy name: w",
            aas.delete_scaling_policy, PolicyName="w", ServiceNamespace="dynamodb",
            ResourceId=rid, ScalableDimension=WRITE)
    # Deregistering a target deletes its policies.
    aas.put_scaling_policy(
        PolicyName="w", ServiceNamespace="dynamodb", ResourceId=rid, ScalableDimension=WRITE,
        PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=policy_config())
    aas.deregister_scalable_target(ServiceNamespace="dynamodb", ResourceId=rid, ScalableDimension=WRITE)
    eq(aas.describe_scaling_policies(ServiceNamespace="dynamodb", ResourceId=rid)["ScalingPolicies"],
       [], "policies after deregistering")


@check
def refusals():
    name = table("bad")
    rid = f"table/{name}"
    refused("ObjectNotFoundException",
            f"No scalable target registered for service namespace: dynamodb, resource ID: {rid}, "
            f"scalable dimension: {READ}",
            aas.put_scaling_policy, PolicyName="r", ServiceNamespace="dynamodb", ResourceId=rid,
            ScalableDimension=READ, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=policy_config(50, "DynamoDBReadCapacityUtilization"))
    refused("ObjectNotFoundException",
            f"No scalable target found for service namespace: dynamodb, resource ID: {rid}, "
            f"scalable dimension: {READ}",
            aas.deregister_scalable_target, ServiceNamespace="dynamodb", ResourceId=rid,
            ScalableDimension=READ)
    refused("ValidationException", f"DynamoDB table does not exist: table/{PREFIX}-none",
            aas.register_scalable_target, ServiceNamespace="dynamodb",
            ResourceId=f"table/{PREFIX}-none", ScalableDimension=READ, MinCapacity=1, MaxCapacity=2)
    refused("ValidationException", f"DynamoDB index does not exist: {rid}/index/none",
            aas.register_scalable_target, ServiceNamespace="dynamodb",
            ResourceId=f"{rid}/index/none", ScalableDimension=INDEX_READ, MinCapacity=1, MaxCapacity=2)
    refused("ValidationException", "Unsupported service namespace, resource type or scalable dimension",
            aas.register_scalable_target, ServiceNamespace="dynamodb", ResourceId=f"dynamo/{name}",
            ScalableDimension=READ, MinCapacity=1, MaxCapacity=2)
    refused("ValidationException", "Unsupported service namespace, resource type or scalable dimension",
            aas.register_scalable_target, ServiceNamespace="dynamodb", ResourceId=rid,
            ScalableDimension=INDEX_READ, MinCapacity=1, MaxCapacity=2)
    refused("ValidationException",
            "1 validation error detected: Value 'dynamo' at 'serviceNamespace' failed to satisfy "
            "constraint: Member must satisfy enum value set: [ecs, elasticmapreduce, ec2, appstream, "
            "dynamodb, rds, sagemaker, custom-resource, comprehend, lambda, cassandra, kafka, "
            "elasticache, neptune, workspaces]",
            raw.register_scalable_target, ServiceNamespace="dynamo", ResourceId=rid,
            ScalableDimension=READ, MinCapacity=1, MaxCapacity=2)
    refused("ValidationException",
            "1 validation error detected: Value null at 'resourceId' failed to satisfy constraint: "
            "Member must not be null",
            raw.register_scalable_target, ServiceNamespace="dynamodb", ScalableDimension=READ,
            MinCapacity=1, MaxCapacity=2)
    refused("ValidationException", "Minimum capacity (5) cannot be greater than maximum capacity (2)",
            aas.register_scalable_target, ServiceNamespace="dynamodb", ResourceId=rid,
            ScalableDimension=READ, MinCapacity=5, MaxCapacity=2)
    aas.register_scalable_target(ServiceNamespace="dynamodb", ResourceId=rid,
                                 ScalableDimension=READ, MinCapacity=1, MaxCapacity=20)
    refused("ValidationException",
            "The target value for DynamoDBReadCapacityUtilization must be between 20 and 90",
            aas.put_scaling_policy, PolicyName="r", ServiceNamespace="dynamodb", ResourceId=rid,
            ScalableDimension=READ, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=policy_config(95, "DynamoDBReadCapacityUtilization"))
    refused("ValidationException",
            f"The predefined metric type for scalable dimension {READ} must be DynamoDBReadCapacityUtilization",
            aas.put_scaling_policy, PolicyName="r", ServiceNamespace="dynamodb", ResourceId=rid,
            ScalableDimension=READ, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=policy_config(50))
    refused("ValidationException",
            "1 validation error detected: Value 'Steps' at 'policyType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [StepScaling, TargetTrackingScaling, PredictiveScaling]",
            raw.put_scaling_policy, PolicyName="r", ServiceNamespace="dynamodb", ResourceId=rid,
            ScalableDimension=READ, PolicyType="Steps")


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


def aws(*args, key=(ADMIN_ID, ADMIN_SECRET)):
    cmd = [aws_cli_path(), "application-autoscaling", *args, "--endpoint-url", ENDPOINT,
           "--region", REGION, "--output", "json"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key[0], AWS_SECRET_ACCESS_KEY=key[1])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


@check
def the_aws_cli():
    name = table("cli")
    rid = f"table/{name}"
    p = aws("register-scalable-target", "--service-namespace", "dynamodb", "--resource-id", rid,
            "--scalable-dimension", WRITE, "--min-capacity", "6", "--max-capacity", "60")
    eq(p.returncode, 0, f"register-scalable-target: {p.stderr}")
    p = aws("put-scaling-policy", "--service-namespace", "dynamodb", "--resource-id", rid,
            "--scalable-dimension", WRITE, "--policy-name", "cli", "--policy-type",
            "TargetTrackingScaling", "--target-tracking-scaling-policy-configuration",
            json.dumps(policy_config(40)))
    eq(p.returncode, 0, f"put-scaling-policy: {p.stderr}")
    p = aws("describe-scalable-targets", "--service-namespace", "dynamodb", "--resource-ids", rid)
    eq(p.returncode, 0, f"describe-scalable-targets: {p.stderr}")
    got = json.loads(p.stdout)["ScalableTargets"]
    eq([(t["MinCapacity"], t["MaxCapacity"]) for t in got], [(6, 60)], "the CLI's target")
    p = aws("describe-scaling-policies", "--service-namespace", "dynamodb", "--resource-id", rid)
    eq([x["PolicyName"] for x in json.loads(p.stdout)["ScalingPolicies"]], ["cli"], "the CLI's policy")
    p = aws("deregister-scalable-target", "--service-namespace", "dynamodb", "--resource-id", rid,
            "--scalable-dimension", READ)
    expect(p.returncode != 0, "deregistering an unknown target fails")
    expect("An error occurred (ObjectNotFoundException) when calling the DeregisterScalableTarget "
           f"operation: No scalable target found for service namespace: dynamodb, resource ID: {rid}, "
           f"scalable dimension: {READ}" in p.stderr, p.stderr)


@check
def a_key_that_is_not_an_administrators_is_refused():
    key_id, secret = os.environ.get("EDDY_KEY_ID"), os.environ.get("EDDY_KEY_SECRET")
    if not key_id:
        return  # Only on a server that verifies signatures (tests/e2e/python.rs).
    user = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret,
                                 region_name=REGION).client(
        "application-autoscaling", endpoint_url=ENDPOINT, config=BASE)
    name = table("keys")
    try:
        user.register_scalable_target(ServiceNamespace="dynamodb", ResourceId=f"table/{name}",
                                      ScalableDimension=READ, MinCapacity=1, MaxCapacity=2)
    except ClientError as e:
        eq(e.response["Error"]["Code"], "AccessDeniedException", "a change by a user's key")
        expect("needs an administrator's key" in e.response["Error"]["Message"], str(e))
    else:
        raise CheckFailed("a user's key registered a target")
    # Its user's policy allows DynamoDB only: a Describe is refused by the policy.
    try:
        user.describe_scalable_targets(ServiceNamespace="dynamodb")
    except ClientError as e:
        eq(e.response["Error"]["Code"], "AccessDeniedException", "a read the policy does not allow")
        expect("application-autoscaling:DescribeScalableTargets" in e.response["Error"]["Message"], str(e))
    else:
        raise CheckFailed("a DynamoDB-only user read the scalable targets")
    p = aws("describe-scalable-targets", "--service-namespace", "dynamodb", key=(key_id, secret))
    expect(p.returncode != 0 and "AccessDeniedException" in p.stderr, p.stderr)


if __name__ == "__main__":
    sys.exit(run_checks(f"auto scaling test against {ENDPOINT} (region {REGION}, tables {PREFIX}-*)",
                        FILTERS, DEADLINE, cleanup))
