"""Firehose against weir with boto3: control-plane shapes and errors, and records delivered as
objects under <data-dir>/s3/<bucket>/."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from weirtest import ACCESS_KEY, REGION, SECRET_KEY, unique_name

ROLE = "arn:aws:iam::000000000000:role/firehose"


def firehose_client(endpoint: str, validate: bool = True):
    cfg = Config(region_name=REGION, retries={"mode": "standard", "total_max_attempts": 1},
                 parameter_validation=validate)
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                    aws_secret_access_key=SECRET_KEY, region_name=REGION)
    return session.client("firehose", endpoint_url=endpoint, config=cfg)


@pytest.fixture(scope="module")
def fh(endpoint):
    return firehose_client(endpoint)


@pytest.fixture(scope="module")
def raw_fh(endpoint):
    return firehose_client(endpoint, validate=False)


def s3_config(bucket: str, size: int = 1, interval: int = 0, **extra) -> dict:
    return {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}",
            "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval}, **extra}


def wait_active(fh, name: str, timeout: float = 10) -> dict:
    deadline = time.time() + timeout
    while True:
        d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        if d["DeliveryStreamStatus"] == "ACTIVE":
            return d
        assert time.time() < deadline, d
        time.sleep(0.05)


def is_staging(name: str) -> bool:
    """A file being written: object_store's staging name (`<key>#<n>`) or a dot-file."""
    head, sep, tail = name.rpartition("#")
    return name.startswith(".") or (bool(sep) and tail.isdigit())


def objects(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not is_staging(p.name):
            try:
                out[str(p.relative_to(root))] = p.read_bytes()
            except FileNotFoundError:  # renamed into place between listing and reading
                pass
    return out


def wait_bytes(root: Path, n: int, timeout: float = 15, decode=lambda b: b) -> dict[str, bytes]:
    deadline = time.time() + timeout
    while True:
        objs = objects(root)
        if sum(len(decode(b)) for b in objs.values()) >= n:
            return objs
        assert time.time() < deadline, list(objs)
        time.sleep(0.05)


def assert_same_records(bodies, expected: bytes) -> None:
    """The objects hold exactly the expected lines, each object in put order (objects written
    in the same second differ only in their UUID, so their order is not defined)."""
    got = []
    for body in bodies:
        pos = 0
        for line in body.splitlines(keepends=True):
            at = expected.find(line, pos)
            assert at >= 0, f"{line!r} out of put order within one object"
            pos = at + len(line)
            got.append(line)
    assert sorted(got) == sorted(expected.splitlines(keepends=True))


def error_of(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message", "")


def test_create_describe_shape_with_defaults(fh):
    name = unique_name("fh")
    arn = fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::shape"},
    )["DeliveryStreamARN"]
    assert arn == f"arn:aws:firehose:us-east-1:000000000000:deliverystream/{name}"
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] in ("CREATING", "ACTIVE")
    d = wait_active(fh, name)
    assert d["DeliveryStreamType"] == "DirectPut"
    assert d["VersionId"] == "1"
    assert d["HasMoreDestinations"] is False
    assert d["DeliveryStreamEncryptionConfiguration"]["Status"] == "DISABLED"
    dest = d["Destinations"][0]
    assert dest["DestinationId"] == "destinationId-000000000001"
    x = dest["ExtendedS3DestinationDescription"]
    assert x["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}
    assert x["CompressionFormat"] == "UNCOMPRESSED"
    assert x["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
    assert x["S3BackupMode"] == "Disabled"
    assert x["CloudWatchLoggingOptions"] == {"Enabled": False}
    assert dest["S3DestinationDescription"]["BucketARN"] == "arn:aws:s3:::shape"


def test_data_format_conversion_configuration_round_trips(fh):
    name = unique_name("fh")
    conversion = {
        "Enabled": True,
        "SchemaConfiguration": {"RoleARN": ROLE, "DatabaseName": "db", "TableName": "t",
                                "Region": "us-east-1"},
        "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}},
    }
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration=s3_config("conv", 64, 60,
                                                     DataFormatConversionConfiguration=conversion),
    )
    d = wait_active(fh, name)
    got = d["Destinations"][0]["ExtendedS3DestinationDescription"]["DataFormatConversionConfiguration"]
    assert got == conversion


def test_errors(fh, raw_fh):
    with pytest.raises(ClientError) as e:
        fh.describe_delivery_stream(DeliveryStreamName="does-not-exist")
    assert error_of(e) == ("ResourceNotFoundException",
                           "Firehose does-not-exist under account 000000000000 not found.")
    name = unique_name("fh")
    fh.create_delivery_stream(DeliveryStreamName=name,
                              ExtendedS3DestinationConfiguration=s3_config("errs"))
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName=name,
                                  ExtendedS3DestinationConfiguration=s3_config("errs"))
    assert error_of(e) == ("ResourceInUseException",
                           f"Firehose {name} under accountId 000000000000 already exists")
    with pytest.raises(ClientError) as e:
        raw_fh.create_delivery_stream(
            DeliveryStreamName=unique_name("fh"),
            ExtendedS3DestinationConfiguration={"RoleARN": "nope", "BucketARN": "arn:aws:s3:::b",
                                                "CompressionFormat": "BROTLI"})
    code, msg = error_of(e)
    assert code == "ValidationException"
    assert msg == ("2 validation errors detected: Value 'nope' at "
                   "'extendedS3DestinationConfiguration.roleARN' failed to satisfy constraint: "
                   "Member must satisfy regular expression pattern: "
                   "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+; Value 'BROTLI' at "
                   "'extendedS3DestinationConfiguration.compressionFormat' failed to satisfy "
                   "constraint: Member must satisfy enum value set: "
                   "[UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]")
    wait_active(fh, name)
    with pytest.raises(ClientError) as e:
        fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId="5",
                              DestinationId="destinationId-000000000001",
                              ExtendedS3DestinationUpdate={"Prefix": "x/"})
    assert error_of(e)[0] == "ConcurrentModificationException"
    fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId="1",
                          DestinationId="destinationId-000000000001",
                          ExtendedS3DestinationUpdate={"Prefix": "x/"})
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d["VersionId"] == "2"
    assert d["Destinations"][0]["ExtendedS3DestinationDescription"]["Prefix"] == "x/"


def test_list_paging_and_type_filter(fh):
    prefix = unique_name("ls")
    names = [f"{prefix}-{i}" for i in range(3)]
    for n in names:
        fh.create_delivery_stream(DeliveryStreamName=n,
                                  ExtendedS3DestinationConfiguration=s3_config("ls"))
    seen, start = [], None
    while True:
        kw = {"Limit": 2, "DeliveryStreamType": "DirectPut"}
        if start:
            kw["ExclusiveStartDeliveryStreamName"] = start
        page = fh.list_delivery_streams(**kw)
        seen += page["DeliveryStreamNames"]
        if not page["HasMoreDeliveryStreams"]:
            break
        start = page["DeliveryStreamNames"][-1]
    assert [n for n in seen if n.startswith(prefix)] == names
    page = fh.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")
    assert not any(n.startswith(prefix) for n in page["DeliveryStreamNames"])


def test_tags_limit_and_paging(fh):
    name = unique_name("fh")
    fh.create_delivery_stream(DeliveryStreamName=name,
                              ExtendedS3DestinationConfiguration=s3_config("tags"),
                              Tags=[{"Key": "a", "Value": "1"}])
    fh.tag_delivery_stream(DeliveryStreamName=name,
                           Tags=[{"Key": f"k{i:02}", "Value": "v"} for i in range(49)])
    with pytest.raises(ClientError) as e:
        fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "one-more", "Value": "v"}])
    assert error_of(e)[0] == "LimitExceededException"
    page = fh.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=20)
    assert len(page["Tags"]) == 20 and page["HasMoreTags"] is True
    fh.untag_delivery_stream(DeliveryStreamName=name, TagKeys=["a"])
    page = fh.list_tags_for_delivery_stream(DeliveryStreamName=name)
    assert len(page["Tags"]) == 49 and page["HasMoreTags"] is False


def test_put_and_delivered_objects(fh, weir_server):
    name = unique_name("fh")
    bucket = unique_name("bkt")
    fh.create_delivery_stream(DeliveryStreamName=name,
                              ExtendedS3DestinationConfiguration=s3_config(bucket, 1, 0,
                                                                           Prefix="in/"))
    r = fh.put_record(DeliveryStreamName=name, Record={"Data": b'{"n":0}\n'})
    assert r["RecordId"] and r["Encrypted"] is False
    out = fh.put_record_batch(DeliveryStreamName=name,
                              Records=[{"Data": f'{{"n":{i}}}\n'.encode()} for i in range(1, 50)])
    assert out["FailedPutCount"] == 0 and len(out["RequestResponses"]) == 49
    expected = b"".join(f'{{"n":{i}}}\n'.encode() for i in range(50))
    root = Path(weir_server.data_dir) / "s3" / bucket
    objs = wait_bytes(root, len(expected))
    assert_same_records(objs.values(), expected)
    for key in objs:
        assert key.startswith("in/") and f"/{name}-1-" in key, key


def test_gzip_objects(fh, weir_server):
    name = unique_name("fh")
    bucket = unique_name("gz")
    fh.create_delivery_stream(DeliveryStreamName=name,
                              ExtendedS3DestinationConfiguration=s3_config(
                                  bucket, 1, 0, CompressionFormat="GZIP"))
    fh.put_record_batch(DeliveryStreamName=name,
                        Records=[{"Data": f"line {i}\n".encode()} for i in range(10)])
    expected = b"".join(f"line {i}\n".encode() for i in range(10))
    objs = wait_bytes(Path(weir_server.data_dir) / "s3" / bucket, len(expected),
                      decode=gzip.decompress)
    assert all(k.endswith(".gz") for k in objs)
    assert_same_records([gzip.decompress(b) for b in objs.values()], expected)


def test_put_to_kinesis_source_is_refused(fh, kinesis):
    stream = unique_name("src")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream,
                                             WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    name = unique_name("fh")
    fh.create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={
            "KinesisStreamARN": f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}",
            "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration=s3_config("ks"))
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})
    assert error_of(e) == ("InvalidArgumentException",
                           "This operation is not permitted on KinesisStreamAsSource delivery "
                           "stream type.")
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    src = d["Source"]["KinesisStreamSourceDescription"]
    assert src["KinesisStreamARN"].endswith(f":stream/{stream}")


def test_delete(fh):
    name = unique_name("fh")
    fh.create_delivery_stream(DeliveryStreamName=name,
                              ExtendedS3DestinationConfiguration=s3_config("del"))
    fh.delete_delivery_stream(DeliveryStreamName=name)
    deadline = time.time() + 10
    while True:
        try:
            d = fh.describe_delivery_stream(DeliveryStreamName=name)
            assert d["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "DELETING"
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceNotFoundException"
            break
        assert time.time() < deadline
        time.sleep(0.05)


def test_cloudwatch_metrics(fh, weir_server, endpoint):
    import datetime as dt
    from test_metrics import cloudwatch_client
    cw = cloudwatch_client(endpoint)
    name = unique_name("fh")
    bucket = unique_name("met")
    fh.create_delivery_stream(DeliveryStreamName=name,
                              ExtendedS3DestinationConfiguration=s3_config(bucket, 1, 0))
    fh.put_record_batch(DeliveryStreamName=name,
                        Records=[{"Data": b"0123456789"} for _ in range(7)])
    wait_bytes(Path(weir_server.data_dir) / "s3" / bucket, 70)

    def total(metric: str, stat: str = "Sum") -> float:
        now = dt.datetime.now(dt.timezone.utc)
        out = cw.get_metric_statistics(
            Namespace="AWS/Firehose", MetricName=metric,
            Dimensions=[{"Name": "DeliveryStreamName", "Value": name}],
            StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=1),
            Period=60, Statistics=[stat])
        return sum(p[stat] for p in out["Datapoints"])

    assert total("IncomingRecords") == 7
    assert total("IncomingBytes") == 70
    deadline = time.time() + 5
    while total("DeliveryToS3.Records") < 7:
        assert time.time() < deadline
        time.sleep(0.05)
    assert total("DeliveryToS3.Bytes") == 70
    assert total("DeliveryToS3.Success", "Minimum") == 1


def test_batch_limits(fh, raw_fh):
    name = unique_name("fh")
    fh.create_delivery_stream(DeliveryStreamName=name,
                              ExtendedS3DestinationConfiguration=s3_config("limits", 128, 900))
    big = b"x" * 1_000_000
    with pytest.raises(ClientError) as e:
        raw_fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": big}] * 5)
    assert error_of(e) == ("InvalidArgumentException", "Records size exceeds 4 MB limit")
    with pytest.raises(ClientError) as e:
        raw_fh.put_record(DeliveryStreamName=name, Record={"Data": b"y" * 1_024_001})
    code, msg = error_of(e)
    assert code == "ValidationException"
    assert msg == ("1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 "
                   "lim=1024001 cap=1024001]' at 'record.data' failed to satisfy constraint: "
                   "Member must have length less than or equal to 1024000")
    out = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"z" * 1000}] * 500)
    assert out["FailedPutCount"] == 0 and len(out["RequestResponses"]) == 500


def test_cloudwatch_logs_decompression_and_message_extraction(fh, weir_server):
    import json as _json
    name = unique_name("fh")
    bucket = unique_name("cwl")
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration=s3_config(bucket, 1, 0, ProcessingConfiguration={
            "Enabled": True, "Processors": [
                {"Type": "Decompression",
                 "Parameters": [{"ParameterName": "CompressionFormat", "ParameterValue": "GZIP"}]},
                {"Type": "CloudWatchLogProcessing",
                 "Parameters": [{"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}]},
            ]}))
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName=name, Record={"Data": b"plain text"})
    assert error_of(e) == ("InvalidSourceException",
                           "Only requests from CloudWatch Logs are supported when CloudWatch Logs "
                           "decompression is enabled")
    payload = {"messageType": "DATA_MESSAGE", "owner": "000000000000", "logGroup": "g",
               "logStream": "s", "subscriptionFilters": ["f"],
               "logEvents": [{"id": "1", "timestamp": 1, "message": "first"},
                             {"id": "2", "timestamp": 2, "message": "second"}]}
    control = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
               "logStream": "", "subscriptionFilters": [], "logEvents": []}
    fh.put_record_batch(DeliveryStreamName=name, Records=[
        {"Data": gzip.compress(_json.dumps(payload).encode())},
        {"Data": gzip.compress(_json.dumps(control).encode())}])
    objs = wait_bytes(Path(weir_server.data_dir) / "s3" / bucket, len(b"first\nsecond\n"))
    assert_same_records(objs.values(), b"first\nsecond\n")


def test_lambda_transform_through_an_http_function(tmp_path):
    """A transform function served over HTTP (`--function NAME=URL`): Firehose's Lambda
    contract end to end, with Dropped and ProcessingFailed records."""
    import base64
    import json as _json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from weirtest import WeirServer, unthrottled_args

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            event = _json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(event)
            out = []
            for r in event["records"]:
                text = base64.b64decode(r["data"]).decode()
                if text == "drop":
                    out.append({"recordId": r["recordId"], "result": "Dropped"})
                elif text == "fail":
                    out.append({"recordId": r["recordId"], "result": "ProcessingFailed"})
                else:
                    out.append({"recordId": r["recordId"], "result": "Ok",
                                "data": base64.b64encode(text.upper().encode() + b"\n").decode()})
            body = _json.dumps({"records": out}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    fn = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=fn.serve_forever, daemon=True).start()
    server = WeirServer(extra_args=[*unthrottled_args(), "--function",
                                    f"upper=http://127.0.0.1:{fn.server_port}/"])
    try:
        server.start()
        fh = firehose_client(server.endpoint)
        name = unique_name("fh")
        arn = "arn:aws:lambda:us-east-1:000000000000:function:upper"
        fh.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration=s3_config(
                "lambda", 1, 0, ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
                ProcessingConfiguration={"Enabled": True, "Processors": [
                    {"Type": "Lambda", "Parameters": [
                        {"ParameterName": "LambdaArn", "ParameterValue": arn}]}]}))
        fh.put_record_batch(DeliveryStreamName=name, Records=[
            {"Data": b"one"}, {"Data": b"drop"}, {"Data": b"two"}, {"Data": b"fail"}])
        root = Path(server.data_dir) / "s3" / "lambda"
        deadline = time.time() + 15
        while True:
            objs = objects(root)
            ok = [v for k, v in objs.items() if not k.startswith("errors/")]
            errors = [v for k, v in objs.items() if k.startswith("errors/processing-failed/")]
            if sum(map(len, ok)) >= len(b"ONE\nTWO\n") and errors:
                assert_same_records(ok, b"ONE\nTWO\n")
                break
            assert time.time() < deadline, objs
            time.sleep(0.05)
        line = _json.loads(errors[0].splitlines()[0])
        assert base64.b64decode(line["rawData"]) == b"fail"
        assert line["lambdaArn"] == arn
        assert seen[0]["deliveryStreamArn"].endswith(f":deliverystream/{name}")
        assert seen[0]["region"] == "us-east-1"
        assert all("approximateArrivalTimestamp" in r for r in seen[0]["records"])
    finally:
        server.cleanup()
        fn.shutdown()
