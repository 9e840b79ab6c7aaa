"""CreateStream / DeleteStream / DescribeStream / DescribeStreamSummary / waiters."""

import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError, WaiterError

from weirtest import (ACCOUNT_ID, HASH_MAX, REGION, WAITER_CONFIG, assert_client_error,
                      create_stream, expected_ranges, not_found_msg, shard_id, stream_arn,
                      unique_name, wait_active)


def test_create_provisioned_stream_goes_creating_then_active(kinesis):
    name = unique_name("life")
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    resp = kinesis.create_stream(StreamName=name, ShardCount=3)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    # CreateStream returns immediately; the stream starts in CREATING.
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamStatus"] == "CREATING"
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    if d["StreamStatus"] == "CREATING":
        # AWS lists no shards while the stream is CREATING.
        assert d["Shards"] == [] and d["HasMoreShards"] is False
    t0 = time.monotonic()
    wait_active(kinesis, name)
    assert time.monotonic() - t0 < 10
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamStatus"] == "ACTIVE"
    assert s["StreamName"] == name
    assert s["StreamARN"] == f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{name}"
    assert s["OpenShardCount"] == 3
    assert s["RetentionPeriodHours"] == 24
    assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert s.get("EncryptionType", "NONE") == "NONE"
    assert s.get("ConsumerCount", 0) == 0
    assert isinstance(s["EnhancedMonitoring"], list)
    created = s["StreamCreationTimestamp"]
    assert before <= created <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    kinesis.delete_stream(StreamName=name)


def test_describe_stream_full_shape(kinesis, make_stream):
    name = make_stream(3)
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["StreamName"] == name
    assert d["StreamARN"] == stream_arn(name)
    assert d["StreamStatus"] == "ACTIVE"
    assert d["HasMoreShards"] is False
    assert d["RetentionPeriodHours"] == 24
    assert d["StreamModeDetails"]["StreamMode"] == "PROVISIONED"
    assert isinstance(d["EnhancedMonitoring"], list)
    assert isinstance(d["StreamCreationTimestamp"], dt.datetime)
    shards = d["Shards"]
    assert [s["ShardId"] for s in shards] == [shard_id(i) for i in range(3)]
    for s, (lo, hi) in zip(shards, expected_ranges(3)):
        assert s["HashKeyRange"] == {"StartingHashKey": str(lo), "EndingHashKey": str(hi)}
        assert "ParentShardId" not in s
        seq = s["SequenceNumberRange"]
        assert seq["StartingSequenceNumber"].isdigit()
        assert "EndingSequenceNumber" not in seq
    assert shards[-1]["HashKeyRange"]["EndingHashKey"] == str(HASH_MAX)


def test_two_shard_boundaries(kinesis, make_stream):
    name = make_stream(2)
    shards = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
    assert shards[0]["HashKeyRange"]["EndingHashKey"] == "170141183460469231731687303715884105727"
    assert shards[1]["HashKeyRange"]["StartingHashKey"] == "170141183460469231731687303715884105728"


def test_create_on_demand_has_four_shards(kinesis, make_stream):
    name = make_stream(None, mode="ON_DEMAND")
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert s["OpenShardCount"] == 4
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert len(d["Shards"]) == 4
    assert len(kinesis.list_shards(StreamName=name)["Shards"]) == 4


def test_create_explicit_provisioned_mode(kinesis, make_stream):
    name = make_stream(2, mode="PROVISIONED")
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert s["OpenShardCount"] == 2


def test_create_with_tags(kinesis, make_stream):
    name = make_stream(1, Tags={"env": "test", "team": "data", "empty": ""})
    tags = kinesis.list_tags_for_stream(StreamName=name)
    assert {t["Key"]: t.get("Value", "") for t in tags["Tags"]} == {
        "env": "test", "team": "data", "empty": ""}
    assert tags["HasMoreTags"] is False


def test_create_with_max_record_size(kinesis, make_stream):
    name = make_stream(1, MaxRecordSizeInKiB=2048)
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s.get("MaxRecordSizeInKiB") == 2048


def test_duplicate_create_is_resource_in_use(kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as e:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    assert_client_error(e, "ResourceInUseException", [name],
                        message=f"Stream {name} under account {ACCOUNT_ID} already exists.")


def test_duplicate_create_while_creating_is_resource_in_use(kinesis):
    name = unique_name("dup")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    try:
        with pytest.raises(ClientError) as e:
            kinesis.create_stream(StreamName=name, ShardCount=2)
        assert_client_error(e, "ResourceInUseException", [name])
    finally:
        wait_active(kinesis, name)
        kinesis.delete_stream(StreamName=name)


def test_describe_missing_stream(kinesis):
    name = unique_name("missing")
    for call in (kinesis.describe_stream, kinesis.describe_stream_summary,
                 kinesis.list_tags_for_stream):
        with pytest.raises(ClientError) as e:
            call(StreamName=name)
        assert_client_error(e, "ResourceNotFoundException", [name], message=not_found_msg(name))
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_summary(StreamARN=stream_arn(name))
    assert_client_error(e, "ResourceNotFoundException", [name])


def test_delete_stream_then_not_found(kinesis):
    name = create_stream(kinesis, unique_name("del"), 2)
    kinesis.delete_stream(StreamName=name)
    # Either DELETING for a while, or gone straight away.
    try:
        s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert s["StreamStatus"] == "DELETING"
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException"
    kinesis.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig=WAITER_CONFIG)
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream(StreamName=name)
    assert_client_error(e, "ResourceNotFoundException", [name])
    assert name not in kinesis.list_streams(ExclusiveStartStreamName=name[:-1])["StreamNames"]


def test_delete_by_arn_and_recreate_same_name(kinesis):
    name = create_stream(kinesis, unique_name("del"), 1)
    kinesis.put_record(StreamName=name, Data=b"old", PartitionKey="k")
    kinesis.delete_stream(StreamARN=stream_arn(name))
    kinesis.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig=WAITER_CONFIG)
    create_stream(kinesis, name, 1)
    try:
        it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        # A recreated stream is a new stream: the old data is gone.
        assert kinesis.get_records(ShardIterator=it)["Records"] == []
    finally:
        kinesis.delete_stream(StreamName=name)


def test_delete_missing_stream(kinesis):
    name = unique_name("missing")
    with pytest.raises(ClientError) as e:
        kinesis.delete_stream(StreamName=name)
    assert_client_error(e, "ResourceNotFoundException", [name], message=not_found_msg(name))


def test_delete_while_creating_is_allowed(kinesis):
    name = unique_name("delc")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.delete_stream(StreamName=name)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig=WAITER_CONFIG)


def test_create_without_shard_count_defaults_to_four_shards(kinesis, make_stream):
    # AWS (recorded 2022): CreateStream with neither ShardCount nor StreamModeDetails
    # creates a 4-shard stream, as for ON_DEMAND.
    name = make_stream(None)
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["OpenShardCount"] == 4


def test_delete_with_enforce_consumer_deletion_no_consumers(kinesis):
    name = create_stream(kinesis, unique_name("del"), 1)
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig=WAITER_CONFIG)


def test_delete_with_consumers_requires_enforce(kinesis):
    name = create_stream(kinesis, unique_name("cons"), 1)
    arn = stream_arn(name)
    try:
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c1")
    except ClientError as e:
        if e.response["Error"]["Code"] == "UnknownOperationException":
            kinesis.delete_stream(StreamName=name)
            pytest.skip("RegisterStreamConsumer not implemented")
        raise
    with pytest.raises(ClientError) as e:
        kinesis.delete_stream(StreamName=name)
    assert_client_error(e, "ResourceInUseException")
    # Still there.
    kinesis.describe_stream_summary(StreamName=name)
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig=WAITER_CONFIG)


def test_data_ops_on_creating_stream_are_rejected(kinesis):
    name = unique_name("creating")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    try:
        status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if status["StreamStatus"] != "CREATING":
            pytest.skip("stream became ACTIVE too fast to observe CREATING")
        with pytest.raises(ClientError) as e:
            kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        assert_client_error(e, "ResourceNotFoundException", [name], message=not_found_msg(name))
    finally:
        wait_active(kinesis, name)
        kinesis.delete_stream(StreamName=name)


# ------------------------------------------------------------------ waiters
def test_stream_exists_waiter(kinesis):
    name = unique_name("wait")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name,
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 15})
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "ACTIVE"
    kinesis.delete_stream(StreamName=name)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=name,
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 15})


def test_stream_exists_waiter_by_arn(kinesis):
    name = unique_name("wait")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamARN=stream_arn(name), WaiterConfig=WAITER_CONFIG)
    kinesis.delete_stream(StreamARN=stream_arn(name))
    kinesis.get_waiter("stream_not_exists").wait(StreamARN=stream_arn(name),
                                                 WaiterConfig=WAITER_CONFIG)


def test_stream_exists_waiter_fails_for_missing_stream(kinesis):
    with pytest.raises(WaiterError):
        kinesis.get_waiter("stream_exists").wait(StreamName=unique_name("nope"),
                                                 WaiterConfig={"Delay": 0.1, "MaxAttempts": 2})
