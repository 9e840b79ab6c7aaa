"""DescribeLimits, account settings, enhanced monitoring, resource policies,
UpdateMaxRecordSize, protocol-level errors, and addressing by StreamARN."""

import json
import time

import pytest
import requests
from botocore.exceptions import ClientError

from weirtest import (JSON_CT, MiB, TARGET_PREFIX, assert_client_error, assert_raw_error,
                      error_type, json_call, raw_call, read_shard, shard_id, signed_headers,
                      stream_arn,
                      unique_name, wait_active)

ALL_METRICS = {"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
               "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
               "IteratorAgeMilliseconds"}


# ------------------------------------------------------------ DescribeLimits
def _wait_no_transitions(kinesis, timeout=15.0):
    """Wait until no stream is CREATING/DELETING (other tests' cleanup), so that
    shard counts are stable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = kinesis.get_paginator("list_streams").paginate().build_full_result()
        if all(s["StreamStatus"] in ("ACTIVE", "UPDATING") for s in res.get("StreamSummaries", [])):
            return
        time.sleep(0.2)
    raise AssertionError("streams stayed CREATING/DELETING")


def test_describe_limits(kinesis, make_stream):
    _wait_no_transitions(kinesis)
    before = kinesis.describe_limits()
    for k in ("ShardLimit", "OpenShardCount", "OnDemandStreamCount", "OnDemandStreamCountLimit"):
        assert isinstance(before[k], int) and before[k] >= 0, k
    assert before["ShardLimit"] > 0
    assert before["OnDemandStreamCountLimit"] > 0
    make_stream(3)
    after = kinesis.describe_limits()
    assert after["OpenShardCount"] == before["OpenShardCount"] + 3
    assert after["OnDemandStreamCount"] == before["OnDemandStreamCount"]
    make_stream(None, mode="ON_DEMAND")
    after2 = kinesis.describe_limits()
    assert after2["OnDemandStreamCount"] == before["OnDemandStreamCount"] + 1
    assert after2["OpenShardCount"] == after["OpenShardCount"] + 4


# ---------------------------------------------------------- account settings
def test_account_settings(kinesis):
    desc = kinesis.describe_account_settings()
    assert desc["ResponseMetadata"]["HTTPStatusCode"] == 200
    if "MinimumThroughputBillingCommitment" in desc:
        assert desc["MinimumThroughputBillingCommitment"]["Status"] in (
            "ENABLED", "DISABLED", "ENABLED_UNTIL_EARLIEST_ALLOWED_END")
    up = kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    assert up["MinimumThroughputBillingCommitment"]["Status"] == "ENABLED"
    desc = kinesis.describe_account_settings()
    assert desc["MinimumThroughputBillingCommitment"]["Status"] == "ENABLED"
    up = kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})
    assert up["MinimumThroughputBillingCommitment"]["Status"] in (
        "DISABLED", "ENABLED_UNTIL_EARLIEST_ALLOWED_END")
    desc = kinesis.describe_account_settings()
    assert desc["MinimumThroughputBillingCommitment"]["Status"] == \
        up["MinimumThroughputBillingCommitment"]["Status"]


def test_account_settings_bad_status(raw_kinesis):
    with pytest.raises(ClientError) as e:
        raw_kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "MAYBE"})
    assert_client_error(e, {"ValidationException", "InvalidArgumentException"}, ["status"])


# -------------------------------------------------------- enhanced monitoring
def _metrics(kinesis, name):
    d = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    return {m for em in d["EnhancedMonitoring"] for m in em.get("ShardLevelMetrics", [])}


def test_enhanced_monitoring(kinesis, stream, addr):
    assert _metrics(kinesis, stream) == set()
    r = kinesis.enable_enhanced_monitoring(**addr(stream),
                                           ShardLevelMetrics=["IncomingBytes", "OutgoingBytes"])
    assert r["StreamName"] == stream
    assert set(r.get("CurrentShardLevelMetrics", [])) == set()
    assert set(r["DesiredShardLevelMetrics"]) == {"IncomingBytes", "OutgoingBytes"}
    wait_active(kinesis, stream)
    assert _metrics(kinesis, stream) == {"IncomingBytes", "OutgoingBytes"}
    r = kinesis.disable_enhanced_monitoring(**addr(stream), ShardLevelMetrics=["IncomingBytes"])
    assert set(r["CurrentShardLevelMetrics"]) == {"IncomingBytes", "OutgoingBytes"}
    assert set(r.get("DesiredShardLevelMetrics", [])) == {"OutgoingBytes"}
    wait_active(kinesis, stream)
    assert _metrics(kinesis, stream) == {"OutgoingBytes"}
    if "StreamARN" in r:
        assert r["StreamARN"] == stream_arn(stream)


def test_enhanced_monitoring_all(kinesis, stream):
    r = kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    assert set(r["DesiredShardLevelMetrics"]) - {"ALL"} == ALL_METRICS
    wait_active(kinesis, stream)
    assert _metrics(kinesis, stream) - {"ALL"} == ALL_METRICS
    r = kinesis.disable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    assert set(r.get("DesiredShardLevelMetrics", [])) == set()
    wait_active(kinesis, stream)
    assert _metrics(kinesis, stream) == set()


def test_enhanced_monitoring_bad_metric(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["Bogus"])
    assert_client_error(e, {"ValidationException", "InvalidArgumentException"},
                        ["shardLevelMetrics"])
    with pytest.raises(ClientError) as e:
        raw_kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=[])
    assert_client_error(e, {"ValidationException", "InvalidArgumentException"},
                        ["shardLevelMetrics"])


def test_enhanced_monitoring_missing_stream(kinesis):
    name = unique_name("nope")
    with pytest.raises(ClientError) as e:
        kinesis.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    assert_client_error(e, "ResourceNotFoundException", [name])


# ---------------------------------------------------------- resource policies
def _policy(arn):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "s1", "Effect": "Allow",
                       "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                       "Action": ["kinesis:GetRecords", "kinesis:DescribeStreamSummary"],
                       "Resource": arn}],
    })


def test_resource_policy_roundtrip(kinesis, stream):
    arn = stream_arn(stream)
    pol = _policy(arn)
    kinesis.put_resource_policy(ResourceARN=arn, Policy=pol)
    got = kinesis.get_resource_policy(ResourceARN=arn)["Policy"]
    assert json.loads(got) == json.loads(pol)
    # Replace.
    pol2 = json.loads(pol)
    pol2["Statement"][0]["Sid"] = "s2"
    kinesis.put_resource_policy(ResourceARN=arn, Policy=json.dumps(pol2))
    assert json.loads(kinesis.get_resource_policy(ResourceARN=arn)["Policy"]) == pol2
    kinesis.delete_resource_policy(ResourceARN=arn)
    try:
        after = kinesis.get_resource_policy(ResourceARN=arn)["Policy"]
        assert after in ("", "{}")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException"


def test_resource_policy_missing_stream(kinesis):
    arn = stream_arn(unique_name("nope"))
    with pytest.raises(ClientError) as e:
        kinesis.put_resource_policy(ResourceARN=arn, Policy=_policy(arn))
    assert_client_error(e, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        kinesis.get_resource_policy(ResourceARN=arn)
    assert_client_error(e, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        kinesis.delete_resource_policy(ResourceARN=arn)
    assert_client_error(e, "ResourceNotFoundException")


def test_resource_policy_invalid_json(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.put_resource_policy(ResourceARN=stream_arn(stream), Policy="{not json")
    assert_client_error(e, {"InvalidArgumentException", "ValidationException"}, ["policy"])


def test_delete_policy_when_none(kinesis, stream):
    try:
        kinesis.delete_resource_policy(ResourceARN=stream_arn(stream))
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException"


# ---------------------------------------------------------- UpdateMaxRecordSize
def test_update_max_record_size(kinesis, stream):
    arn = stream_arn(stream)
    big = bytes(range(256)) * (1536 * 1024 // 256)  # 1.5 MiB
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamARN=arn, Data=big, PartitionKey="k")
    assert_client_error(e, {"InvalidArgumentException", "ValidationException"})
    kinesis.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=2048)
    wait_active(kinesis, stream)
    s = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert s["MaxRecordSizeInKiB"] == 2048
    r = kinesis.put_record(StreamARN=arn, Data=big, PartitionKey="k")
    r2 = kinesis.put_records(StreamARN=arn, Records=[{"Data": big[::-1], "PartitionKey": "k"}])
    assert r2["FailedRecordCount"] == 0
    got = read_shard(kinesis, stream, shard_id(0))
    assert [x["Data"] for x in got] == [big, big[::-1]]
    assert got[0]["SequenceNumber"] == r["SequenceNumber"]
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamARN=arn, Data=b"\x00" * (2 * MiB), PartitionKey="k")
    assert_client_error(e, {"InvalidArgumentException", "ValidationException"})


@pytest.mark.parametrize("size", [1023, 10241])
def test_update_max_record_size_bounds(raw_kinesis, stream, size):
    with pytest.raises(ClientError) as e:
        raw_kinesis.update_max_record_size(StreamARN=stream_arn(stream), MaxRecordSizeInKiB=size)
    assert_client_error(e, {"ValidationException", "InvalidArgumentException"},
                        ["maxRecordSizeInKiB"])


def test_update_max_record_size_missing_stream(kinesis):
    with pytest.raises(ClientError) as e:
        kinesis.update_max_record_size(StreamARN=stream_arn(unique_name("nope")),
                                       MaxRecordSizeInKiB=2048)
    assert_client_error(e, "ResourceNotFoundException")


# ------------------------------------------------------------- protocol level
def test_unknown_operation(endpoint):
    for target in (TARGET_PREFIX + "NoSuchOperation", "Kinesis_20990101.ListStreams", "garbage"):
        r = raw_call(endpoint, None, b"{}", target=target)
        assert r.status_code == 400, (target, r.text)
        assert_raw_error(r.status_code, r.json(), r, "UnknownOperationException")


def test_missing_target_header(endpoint):
    r = requests.post(endpoint + "/", data=b"{}", timeout=10, headers={
        "Content-Type": JSON_CT, "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/"
        "us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=" + "0" * 64,
        "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())})
    assert r.status_code == 400
    assert error_type(r.json(), r) == "UnknownOperationException"


def test_unknown_operation_via_boto3(kinesis):
    # A client-side op name the server does not know (add a fake op through the event system).
    def retarget(request, **_):
        request.headers["X-Amz-Target"] = TARGET_PREFIX + "CreateChannelThatDoesNotExist"
    kinesis.meta.events.register_first("before-sign.kinesis.DescribeLimits", retarget)
    try:
        with pytest.raises(ClientError) as e:
            kinesis.describe_limits()
        assert_client_error(e, "UnknownOperationException")
    finally:
        kinesis.meta.events.unregister("before-sign.kinesis.DescribeLimits", retarget)


def test_missing_authorization(endpoint):
    r = requests.post(endpoint + "/", data=b"{}", timeout=10, headers={
        "Content-Type": JSON_CT, "X-Amz-Target": TARGET_PREFIX + "ListStreams"})
    assert r.status_code in (400, 403), r.text
    body = r.json()
    assert error_type(body, r) == "MissingAuthenticationTokenException", body
    assert r.status_code == 400
    assert (body.get("message") or body.get("Message")) == "Missing Authentication Token"


def test_incomplete_signature(endpoint):
    r = requests.post(endpoint + "/", data=b"{}", timeout=10, headers={
        "Content-Type": JSON_CT, "X-Amz-Target": TARGET_PREFIX + "ListStreams",
        "Authorization": "X"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert error_type(body, r) == "IncompleteSignatureException", body


def test_response_headers(endpoint):
    status, body, r = json_call(endpoint, "ListStreams", {"Limit": 1})
    assert status == 200
    assert r.headers["Content-Type"].startswith(JSON_CT)
    rid = r.headers.get("x-amzn-RequestId")
    assert rid and len(rid) >= 16
    status2, _, r2 = json_call(endpoint, "ListStreams", {"Limit": 1})
    assert r2.headers.get("x-amzn-RequestId") != rid
    # Errors also carry a request id and JSON content type.
    status, body, r = json_call(endpoint, "DescribeStream", {"StreamName": "no-such-xyz"})
    assert status == 400 and r.headers.get("x-amzn-RequestId")
    assert r.headers["Content-Type"].startswith(JSON_CT)
    assert error_type(body, r) == "ResourceNotFoundException"
    assert body.get("message") or body.get("Message")


def test_request_id_in_boto3_metadata(kinesis):
    meta = kinesis.list_streams(Limit=1)["ResponseMetadata"]
    assert meta.get("RequestId")


def test_path_is_ignored(endpoint):
    body = b'{"Limit": 1}'
    r = requests.post(endpoint + "/some/other/path", data=body, timeout=10,
                      headers=signed_headers(endpoint, "ListStreams", body,
                                             path="/some/other/path"))
    assert r.status_code == 200, r.text
    assert "StreamNames" in r.json()


# ----------------------------------------------- every stream op by StreamARN
def test_all_stream_ops_by_arn(kinesis):
    name = unique_name("arn")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    wait_active(kinesis, name)
    arn = stream_arn(name)
    A = {"StreamARN": arn}
    try:
        assert kinesis.describe_stream(**A)["StreamDescription"]["StreamName"] == name
        assert kinesis.describe_stream_summary(**A)["StreamDescriptionSummary"]["StreamARN"] == arn
        assert len(kinesis.list_shards(**A)["Shards"]) == 2
        r = kinesis.put_record(**A, Data=b"one", PartitionKey="pk")
        rs = kinesis.put_records(**A, Records=[{"Data": b"two", "PartitionKey": "pk"}])
        assert rs["FailedRecordCount"] == 0
        it = kinesis.get_shard_iterator(**A, ShardId=r["ShardId"],
                                        ShardIteratorType="AT_SEQUENCE_NUMBER",
                                        StartingSequenceNumber=r["SequenceNumber"])["ShardIterator"]
        got = kinesis.get_records(ShardIterator=it, **A)["Records"]
        assert [x["Data"] for x in got] == [b"one", b"two"]
        kinesis.add_tags_to_stream(**A, Tags={"a": "1", "b": "2"})
        kinesis.remove_tags_from_stream(**A, TagKeys=["b"])
        assert kinesis.list_tags_for_stream(**A)["Tags"] == [{"Key": "a", "Value": "1"}]
        kinesis.increase_stream_retention_period(**A, RetentionPeriodHours=30)
        kinesis.decrease_stream_retention_period(**A, RetentionPeriodHours=25)
        assert kinesis.describe_stream_summary(**A)["StreamDescriptionSummary"][
            "RetentionPeriodHours"] == 25
        kinesis.enable_enhanced_monitoring(**A, ShardLevelMetrics=["IncomingRecords"])
        wait_active(kinesis, name)
        kinesis.disable_enhanced_monitoring(**A, ShardLevelMetrics=["IncomingRecords"])
        wait_active(kinesis, name)
        kinesis.update_max_record_size(**A, MaxRecordSizeInKiB=1024)
        wait_active(kinesis, name)
    finally:
        kinesis.delete_stream(**A)
    kinesis.get_waiter("stream_not_exists").wait(StreamARN=arn,
                                                 WaiterConfig={"Delay": 0.25, "MaxAttempts": 60})
