"""Functions through boto3's lambda client: the AWS documentation's Kinesis handler runs unchanged
under awslambdaric, fed by an event-source mapping on a weir stream, and sees the exact Lambda
Kinesis event; Invoke (boto3 and the AWS CLI); the API's shapes and errors.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from weirtest import ACCOUNT_ID, REGION, create_stream, make_client, unique_name

pytest.importorskip("awslambdaric", reason="pip install awslambdaric (tests/python/requirements.txt)")

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/lambda-kinesis-role"

# The Python example of "Using AWS Lambda with Amazon Kinesis" in the Lambda developer guide,
# unchanged.
DOCS_HANDLER = '''\
import base64
def lambda_handler(event, context):

    for record in event['Records']:
        try:
            print(f"Processed Kinesis Event - EventID: {record['eventID']}")
            record_data = base64.b64decode(record['kinesis']['data']).decode('utf-8')
            print(f"Record Data: {record_data}")
            # TODO: Do interesting work based on the new data
        except Exception as e:
            print(f"An error occurred {e}")
            raise e
    print(f"Successfully processed {len(event['Records'])} records.")
'''

# Writes every event it gets to $OUT_DIR, one file per invocation.
RECORDER = '''\
import json, os, time, uuid
def handler(event, context):
    out = os.environ["OUT_DIR"]
    name = f"{time.time():.6f}-{uuid.uuid4()}.json"
    with open(os.path.join(out, name + ".tmp"), "w") as f:
        json.dump({"event": event, "request_id": context.aws_request_id,
                   "function_arn": context.invoked_function_arn}, f)
    os.rename(os.path.join(out, name + ".tmp"), os.path.join(out, name))
    return {"ok": True}
'''


def lambda_client(endpoint: str):
    return boto3.client("lambda", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="AKIDWEIRTEST", aws_secret_access_key="secret",
                        config=Config(retries={"max_attempts": 1}))


def zipped(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def create_zip_function(lam, name: str, files: dict[str, str], handler: str,
                        env: dict[str, str] | None = None, timeout: int = 10) -> dict:
    return lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler=handler,
        Code={"ZipFile": zipped(files)}, Timeout=timeout,
        Environment={"Variables": env or {}})


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def recorded(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def test_the_documentations_kinesis_handler_runs_unchanged(weir_server, endpoint, kinesis):
    lam = lambda_client(endpoint)
    fn = unique_name("docs-handler")
    created = create_zip_function(lam, fn, {"lambda_function.py": DOCS_HANDLER},
                                  "lambda_function.lambda_handler")
    assert created["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{fn}"
    assert created["Runtime"] == "python3.12"
    assert created["State"] == "Active"
    assert created["Timeout"] == 10 and created["MemorySize"] == 128

    stream = unique_name("docs-stream")
    create_stream(kinesis, stream, 1)
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{stream}"
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
        BatchSize=100)
    assert mapping["State"] == "Creating"
    assert mapping["EventSourceArn"] == stream_arn
    assert mapping["FunctionArn"] == created["FunctionArn"]
    assert mapping["BatchSize"] == 100
    got = lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert got["State"] == "Enabled"

    sent = [f"Hello, this is test record {i}." for i in range(5)]
    for s in sent:
        kinesis.put_record(StreamName=stream, Data=s.encode(), PartitionKey="pk")

    def printed():
        log = Path(weir_server.log_path).read_text(errors="replace")
        return [s for s in sent if f"Record Data: {s}" in log]

    wait_for(lambda: len(printed()) == len(sent), what="the handler's output in weir's log")
    log = Path(weir_server.log_path).read_text(errors="replace")
    ids = re.findall(r"Processed Kinesis Event - EventID: (shardId-000000000000:\d+)", log)
    assert len(set(ids)) >= len(sent)
    assert "Successfully processed" in log
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    lam.delete_function(FunctionName=fn)


def test_the_event_is_lambdas_kinesis_event_field_for_field(endpoint, kinesis, tmp_path):
    lam = lambda_client(endpoint)
    fn = unique_name("recorder")
    out = tmp_path / "events"
    out.mkdir()
    create_zip_function(lam, fn, {"app.py": RECORDER}, "app.handler", {"OUT_DIR": str(out)})
    stream = unique_name("shape")
    create_stream(kinesis, stream, 1)
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{stream}"
    put = kinesis.put_record(StreamName=stream, Data=b"\x00\x01binary", PartitionKey="key-1")
    lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=fn,
                                    StartingPosition="TRIM_HORIZON")
    calls = wait_for(lambda: recorded(out), what="an invocation")
    event = calls[0]["event"]
    assert list(event) == ["Records"]
    (record,) = event["Records"]
    assert set(record) == {"kinesis", "eventSource", "eventVersion", "eventID", "eventName",
                           "invokeIdentityArn", "awsRegion", "eventSourceARN"}
    k = record["kinesis"]
    assert set(k) == {"kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data",
                      "approximateArrivalTimestamp"}
    assert k["kinesisSchemaVersion"] == "1.0"
    assert k["partitionKey"] == "key-1"
    assert k["sequenceNumber"] == put["SequenceNumber"]
    assert base64.b64decode(k["data"]) == b"\x00\x01binary"
    assert isinstance(k["approximateArrivalTimestamp"], float)
    assert abs(k["approximateArrivalTimestamp"] - time.time()) < 120
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventVersion"] == "1.0"
    assert record["eventID"] == f"shardId-000000000000:{put['SequenceNumber']}"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["invokeIdentityArn"] == ROLE
    assert record["awsRegion"] == REGION
    assert record["eventSourceARN"] == stream_arn
    assert calls[0]["function_arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{fn}"


def test_invoke_with_boto3_and_the_cli(endpoint, tmp_path):
    lam = lambda_client(endpoint)
    fn = unique_name("echo")
    create_zip_function(lam, fn, {"echo.py": (
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise RuntimeError('asked to fail')\n"
        "    return {'echo': event, 'request_id': context.aws_request_id}\n")}, "echo.handler")
    ok = lam.invoke(FunctionName=fn, Payload=json.dumps({"a": 1}).encode())
    assert ok["StatusCode"] == 200
    assert "FunctionError" not in ok
    assert ok["ExecutedVersion"] == "$LATEST"
    body = json.loads(ok["Payload"].read())
    assert body["echo"] == {"a": 1}

    bad = lam.invoke(FunctionName=fn, Payload=b'{"fail": true}')
    assert bad["StatusCode"] == 200
    assert bad["FunctionError"] == "Unhandled"
    err = json.loads(bad["Payload"].read())
    assert err["errorType"] == "RuntimeError"
    assert err["errorMessage"] == "asked to fail"

    import requests
    metrics = requests.get(f"{endpoint}/metrics", timeout=10).text
    def metric(name: str) -> float:
        m = re.search(rf'^{name}{{function_name="{fn}"}} (\d+)$', metrics, re.M)
        assert m, f"{name} for {fn} not in /metrics"
        return float(m.group(1))
    assert metric("weir_lambda_invocations_total") == 2
    assert metric("weir_lambda_errors_total") == 1
    assert metric("weir_lambda_cold_starts_total") == 1
    assert metric("weir_lambda_duration_milliseconds_count") == 2

    event = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")
    assert event["StatusCode"] == 202
    dry = lam.invoke(FunctionName=fn, InvocationType="DryRun")
    assert dry["StatusCode"] == 204

    # The AWS CLI (v1 sends --payload as given).
    out = tmp_path / "out.json"
    cli = subprocess.run(
        [sys.executable, "-m", "awscli", "lambda", "invoke", "--endpoint-url", endpoint,
         "--region", REGION, "--function-name", fn, "--payload", '{"cli": true}', str(out)],
        capture_output=True, text=True, timeout=60,
        env={"AWS_ACCESS_KEY_ID": "AKIDWEIRTEST", "AWS_SECRET_ACCESS_KEY": "secret",
             "PATH": "/usr/bin:/bin"})
    if cli.returncode != 0 and "No module named awscli" in cli.stderr:
        pytest.skip("the AWS CLI is not installed")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["echo"] == {"cli": True}


def test_lambda_errors_are_lambdas(endpoint, kinesis):
    lam = lambda_client(endpoint)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="no-such-function")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["Error"]["Message"] == (
        f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:no-such-function")

    fn = unique_name("dup")
    create_zip_function(lam, fn, {"a.py": "def h(e, c):\n    return 1\n"}, "a.h")
    with pytest.raises(ClientError) as e:
        create_zip_function(lam, fn, {"a.py": "def h(e, c):\n    return 1\n"}, "a.h")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    assert e.value.response["Error"]["Message"] == f"Function already exist: {fn}"

    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=fn, Payload=b"not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"

    stream = unique_name("esm-errors")
    create_stream(kinesis, stream, 1)
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{stream}"
    raw = boto3.client("lambda", endpoint_url=endpoint, region_name=REGION,
                       aws_access_key_id="a", aws_secret_access_key="b",
                       config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        raw.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn,
                                        StartingPosition="LATEST", BatchSize=0)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'batchSize' failed to satisfy constraint" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="nope",
                                        StartingPosition="LATEST")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"

    listed = lam.list_functions()["Functions"]
    assert fn in [f["FunctionName"] for f in listed]
    lam.delete_function(FunctionName=fn)
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=fn)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_mapping_resumes_from_its_checkpoint_after_kill_9(fresh_server, tmp_path):
    endpoint = fresh_server.endpoint
    lam = lambda_client(endpoint)
    kinesis = make_client(endpoint)
    out = tmp_path / "events"
    out.mkdir()
    fn = unique_name("resume")
    create_zip_function(lam, fn, {"app.py": RECORDER}, "app.handler", {"OUT_DIR": str(out)})
    stream = unique_name("resume")
    create_stream(kinesis, stream, 2)
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{stream}"
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn,
                                    StartingPosition="TRIM_HORIZON", BatchSize=10)

    def delivered() -> list[str]:
        return [base64.b64decode(r["kinesis"]["data"]).decode()
                for call in recorded(out) for r in call["event"]["Records"]]

    first = [f"a-{i}" for i in range(40)]
    kinesis.put_records(StreamName=stream, Records=[
        {"Data": d.encode(), "PartitionKey": d} for d in first])
    wait_for(lambda: set(first) <= set(delivered()), what="the first records")
    fresh_server.restart(graceful=False)
    kinesis = make_client(fresh_server.endpoint)
    second = [f"b-{i}" for i in range(40)]
    kinesis.put_records(StreamName=stream, Records=[
        {"Data": d.encode(), "PartitionKey": d} for d in second])
    wait_for(lambda: set(second) <= set(delivered()), what="the records put after the restart")
    got = delivered()
    assert set(got) == set(first) | set(second), "nothing lost"
    # At-least-once: only a batch in flight at the kill may repeat.
    assert len(got) - len(set(got)) <= 10


def test_eventbridge_schedule_rules(endpoint):
    events = boto3.client("events", endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id="AKIDWEIRTEST", aws_secret_access_key="secret",
                          config=Config(retries={"max_attempts": 1}))
    lam = lambda_client(endpoint)
    fn = unique_name("scheduled")
    create_zip_function(lam, fn, {"a.py": "def h(e, c):\n    return e\n"}, "a.h")
    name = unique_name("hourly")
    arn = events.put_rule(Name=name, ScheduleExpression="cron(0 * * * ? *)",
                          State="ENABLED", Description="every hour")["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}"
    got = events.describe_rule(Name=name)
    assert got["ScheduleExpression"] == "cron(0 * * * ? *)"
    assert got["State"] == "ENABLED" and got["EventBusName"] == "default"
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{fn}"
    put = events.put_targets(Rule=name, Targets=[{"Id": "t1", "Arn": fn_arn}])
    assert put["FailedEntryCount"] == 0
    assert events.list_targets_by_rule(Rule=name)["Targets"] == [{"Id": "t1", "Arn": fn_arn}]
    assert name in [r["Name"] for r in events.list_rules(NamePrefix=name[:6])["Rules"]]
    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=unique_name("bad"), ScheduleExpression="cron(0 12 * * * *)")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "Parameter ScheduleExpression is not valid."
    with pytest.raises(ClientError) as e:
        events.delete_rule(Name=name)
    assert e.value.response["Error"]["Message"] == "Rule can't be deleted since it has targets."
    events.remove_targets(Rule=name, Ids=["t1"])
    events.delete_rule(Name=name)
    with pytest.raises(ClientError) as e:
        events.describe_rule(Name=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == f"Rule {name} does not exist on EventBus default."


def test_an_object_created_in_a_bucket_directory_triggers_its_function(weir_server, endpoint,
                                                                        tmp_path):
    lam = lambda_client(endpoint)
    out = tmp_path / "events"
    out.mkdir()
    fn = unique_name("on-upload")
    create_zip_function(lam, fn, {"app.py": RECORDER}, "app.handler", {"OUT_DIR": str(out)})
    bucket = unique_name("landing")
    root = Path(weir_server.data_dir) / "s3" / bucket
    (root / "in").mkdir(parents=True)
    (root / "in" / "before.csv").write_text("already here\n")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                      aws_access_key_id="AKIDWEIRTEST", aws_secret_access_key="secret",
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{fn}"
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "Id": "csv-uploads", "LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                               {"Name": "suffix", "Value": ".csv"}]}}}]})
    conf = s3.get_bucket_notification_configuration(Bucket=bucket)
    (c,) = conf["LambdaFunctionConfigurations"]
    assert c["Id"] == "csv-uploads" and c["LambdaFunctionArn"] == fn_arn
    assert sorted((r["Name"], r["Value"]) for r in c["Filter"]["Key"]["FilterRules"]) == [
        ("Prefix", "in/"), ("Suffix", ".csv")]

    (root / "in" / "my data.csv").write_text("a,b\n1,2\n")
    (root / "in" / "skip.txt").write_text("not csv\n")
    (root / "other").mkdir()
    (root / "other" / "skip.csv").write_text("wrong prefix\n")
    calls = wait_for(lambda: recorded(out), what="the object-created event")
    time.sleep(1.0)
    calls = recorded(out)
    assert len(calls) == 1, [c["event"]["Records"][0]["s3"]["object"]["key"] for c in calls]
    (rec,) = calls[0]["event"]["Records"]
    assert rec["eventSource"] == "aws:s3" and rec["eventVersion"] == "2.1"
    assert rec["eventName"] == "ObjectCreated:Put"
    assert rec["awsRegion"] == REGION
    assert rec["s3"]["s3SchemaVersion"] == "1.0"
    assert rec["s3"]["configurationId"] == "csv-uploads"
    assert rec["s3"]["bucket"] == {"name": bucket, "ownerIdentity": {"principalId": "weir"},
                                   "arn": f"arn:aws:s3:::{bucket}"}
    obj = rec["s3"]["object"]
    assert obj["key"] == "in/my+data.csv"
    assert obj["size"] == len("a,b\n1,2\n")
    import hashlib
    assert obj["eTag"] == hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert re.fullmatch(r"[0-9A-F]{16}", obj["sequencer"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["eventTime"])


def test_the_weir_cli_defines_invokes_and_maps_functions(endpoint, kinesis, tmp_path):
    from weirtest import weir_bin

    def weir(*args: str) -> dict:
        p = subprocess.run([str(weir_bin()), *args, "--endpoint", endpoint],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return {'got': event}\n")
    fn = unique_name("cli-fn")
    created = weir("function", "create", fn, "--command", f"{sys.executable} -m awslambdaric app.handler",
                   "--cwd", str(code), "--timeout", "5", "--env", "A=1")
    assert created["FunctionName"] == fn and created["Timeout"] == 5
    assert weir("function", "invoke", fn, "--payload", '{"x": 2}') == {"got": {"x": 2}}
    assert fn in [f["FunctionName"] for f in weir("function", "list")["Functions"]]

    stream = unique_name("cli-stream")
    create_stream(kinesis, stream, 1)
    m = weir("mapping", "create", "--function", fn, "--stream", stream,
             "--starting-position", "TRIM_HORIZON", "--batch-size", "5")
    assert m["BatchSize"] == 5
    assert weir("mapping", "disable", m["UUID"])["State"] == "Disabling"
    assert weir("mapping", "get", m["UUID"])["State"] == "Disabled"
    assert [x["UUID"] for x in weir("mapping", "list", "--function", fn)["EventSourceMappings"]] == [m["UUID"]]
    weir("mapping", "delete", m["UUID"])

    rule = unique_name("cli-rule")
    put = weir("schedule", "put", rule, "--expression", "rate(1 hour)", "--function", fn)
    assert put["RuleArn"].endswith(f":rule/{rule}")
    assert rule in [r["Name"] for r in weir("schedule", "list")["Rules"]]
    weir("schedule", "delete", rule)
    weir("function", "delete", fn)

    bad = subprocess.run([str(weir_bin()), "function", "get", fn, "--endpoint", endpoint],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "ResourceNotFoundException: Function not found" in bad.stderr
