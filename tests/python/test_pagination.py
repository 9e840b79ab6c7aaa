"""DescribeStream / ListStreams / ListShards paging, and ListShards filters."""

import datetime as dt
import uuid

import pytest
from botocore.exceptions import ClientError

from weirtest import assert_client_error, create_stream, not_found_msg, shard_id, stream_arn


@pytest.fixture(scope="module")
def five(kinesis):
    name = create_stream(kinesis, f"pg5-{uuid.uuid4().hex[:10]}", 5)
    yield name
    kinesis.delete_stream(StreamName=name)


# ------------------------------------------------------------ DescribeStream
def test_describe_stream_limit_and_exclusive_start(kinesis, five):
    d = kinesis.describe_stream(StreamName=five, Limit=2)["StreamDescription"]
    assert [s["ShardId"] for s in d["Shards"]] == [shard_id(0), shard_id(1)]
    assert d["HasMoreShards"] is True
    d = kinesis.describe_stream(StreamName=five, Limit=2,
                                ExclusiveStartShardId=shard_id(1))["StreamDescription"]
    assert [s["ShardId"] for s in d["Shards"]] == [shard_id(2), shard_id(3)]
    assert d["HasMoreShards"] is True
    d = kinesis.describe_stream(StreamName=five, Limit=2,
                                ExclusiveStartShardId=shard_id(3))["StreamDescription"]
    assert [s["ShardId"] for s in d["Shards"]] == [shard_id(4)]
    assert d["HasMoreShards"] is False
    d = kinesis.describe_stream(StreamName=five, ExclusiveStartShardId=shard_id(4))
    assert d["StreamDescription"]["Shards"] == []
    assert d["StreamDescription"]["HasMoreShards"] is False


def test_describe_stream_limit_exact(kinesis, five):
    d = kinesis.describe_stream(StreamName=five, Limit=5)["StreamDescription"]
    assert len(d["Shards"]) == 5
    assert d["HasMoreShards"] is False
    d = kinesis.describe_stream(StreamName=five, Limit=10000)["StreamDescription"]
    assert len(d["Shards"]) == 5


def test_describe_stream_by_arn_with_limit(kinesis, five):
    d = kinesis.describe_stream(StreamARN=stream_arn(five), Limit=3)["StreamDescription"]
    assert len(d["Shards"]) == 3 and d["HasMoreShards"] is True
    assert d["StreamName"] == five


def test_describe_stream_paginator(kinesis, five):
    pages = list(kinesis.get_paginator("describe_stream").paginate(
        StreamName=five, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    ids = [s["ShardId"] for p in pages for s in p["StreamDescription"]["Shards"]]
    assert ids == [shard_id(i) for i in range(5)]
    full = kinesis.get_paginator("describe_stream").paginate(
        StreamName=five, PaginationConfig={"PageSize": 2}).build_full_result()
    assert [s["ShardId"] for s in full["StreamDescription"]["Shards"]] == ids
    assert full["StreamDescription"]["StreamName"] == five


# --------------------------------------------------------------- ListStreams
@pytest.fixture(scope="module")
def named_streams(kinesis):
    prefix = f"ls-{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    for n in names:
        kinesis.create_stream(StreamName=n, ShardCount=1)
    for n in names:
        kinesis.get_waiter("stream_exists").wait(StreamName=n,
                                                 WaiterConfig={"Delay": 0.25, "MaxAttempts": 60})
    yield names
    for n in names:
        kinesis.delete_stream(StreamName=n)


def test_list_streams_contains_and_summaries(kinesis, named_streams):
    resp = kinesis.list_streams(ExclusiveStartStreamName=named_streams[0][:-2])
    names = resp["StreamNames"]
    for n in named_streams:
        assert n in names
    assert isinstance(resp["HasMoreStreams"], bool)
    summaries = {s["StreamName"]: s for s in resp["StreamSummaries"]}
    assert [s["StreamName"] for s in resp["StreamSummaries"]] == names
    for n in named_streams:
        s = summaries[n]
        assert s["StreamARN"] == stream_arn(n)
        assert s["StreamStatus"] == "ACTIVE"
        assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
        assert isinstance(s["StreamCreationTimestamp"], dt.datetime)


def test_list_streams_exclusive_start_and_limit(kinesis, named_streams):
    a, b, c = named_streams
    resp = kinesis.list_streams(ExclusiveStartStreamName=a, Limit=2)
    assert resp["StreamNames"] == [b, c]
    assert [s["StreamName"] for s in resp["StreamSummaries"]] == [b, c]
    resp = kinesis.list_streams(ExclusiveStartStreamName=a, Limit=1)
    assert resp["StreamNames"] == [b]
    assert resp["HasMoreStreams"] is True
    assert resp.get("NextToken")


def test_list_streams_sorted_and_next_token(kinesis, named_streams):
    seen = []
    resp = kinesis.list_streams(Limit=2)
    assert len(resp["StreamNames"]) <= 2
    seen.extend(resp["StreamNames"])
    pages = 1
    while resp["HasMoreStreams"]:
        assert resp.get("NextToken"), "HasMoreStreams without NextToken"
        resp = kinesis.list_streams(NextToken=resp["NextToken"], Limit=2)
        assert len(resp["StreamNames"]) <= 2
        seen.extend(resp["StreamNames"])
        pages += 1
        assert pages < 1000
    assert len(seen) == len(set(seen)), "duplicate stream names across pages"
    assert seen == sorted(seen)
    for n in named_streams:
        assert n in seen


def test_list_streams_paginator(kinesis, named_streams):
    result = kinesis.get_paginator("list_streams").paginate(
        PaginationConfig={"PageSize": 2}).build_full_result()
    names = result["StreamNames"]
    assert len(names) == len(set(names))
    for n in named_streams:
        assert n in names
    assert [s["StreamName"] for s in result["StreamSummaries"]] == names


# ---------------------------------------------------------------- ListShards
def ids(shards):
    return [s["ShardId"] for s in shards]


def test_list_shards_basic(kinesis, five):
    resp = kinesis.list_shards(StreamName=five)
    assert ids(resp["Shards"]) == [shard_id(i) for i in range(5)]
    assert not resp.get("NextToken")
    for s in resp["Shards"]:
        assert set(s["HashKeyRange"]) == {"StartingHashKey", "EndingHashKey"}
        assert "StartingSequenceNumber" in s["SequenceNumberRange"]


def test_list_shards_max_results_and_next_token(kinesis, five):
    resp = kinesis.list_shards(StreamName=five, MaxResults=2)
    got = ids(resp["Shards"])
    assert got == [shard_id(0), shard_id(1)]
    token = resp["NextToken"]
    while token:
        resp = kinesis.list_shards(NextToken=token, MaxResults=2)
        assert len(resp["Shards"]) <= 2
        got.extend(ids(resp["Shards"]))
        token = resp.get("NextToken")
        assert len(got) <= 5
    assert got == [shard_id(i) for i in range(5)]


def test_list_shards_paginator_single_page(kinesis, five):
    result = kinesis.get_paginator("list_shards").paginate(StreamName=five).build_full_result()
    assert ids(result["Shards"]) == [shard_id(i) for i in range(5)]


def test_list_shards_paginator_multi_page_is_rejected_like_aws(kinesis, five):
    # botocore's ListShards paginator re-sends StreamName together with NextToken, which
    # real AWS rejects (boto/botocore#2009); weir must behave the same way.
    with pytest.raises(ClientError) as e:
        kinesis.get_paginator("list_shards").paginate(
            StreamName=five, PaginationConfig={"PageSize": 2}).build_full_result()
    assert_client_error(e, "InvalidArgumentException",
                        message="NextToken and StreamName cannot be provided together.")


def test_list_shards_exclusive_start_shard_id(kinesis, five):
    resp = kinesis.list_shards(StreamName=five, ExclusiveStartShardId=shard_id(2))
    assert ids(resp["Shards"]) == [shard_id(3), shard_id(4)]
    resp = kinesis.list_shards(StreamName=five, ExclusiveStartShardId=shard_id(4))
    assert resp["Shards"] == []


def test_list_shards_by_arn_and_creation_timestamp(kinesis, five):
    created = kinesis.describe_stream_summary(
        StreamName=five)["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    resp = kinesis.list_shards(StreamARN=stream_arn(five), StreamCreationTimestamp=created)
    assert ids(resp["Shards"]) == [shard_id(i) for i in range(5)]


def test_list_shards_next_token_with_stream_name_is_invalid(kinesis, five):
    token = kinesis.list_shards(StreamName=five, MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamName=five, NextToken=token)
    assert_client_error(e, "InvalidArgumentException", ["NextToken"],
                        message="NextToken and StreamName cannot be provided together.")


def test_list_shards_next_token_with_stream_arn_is_invalid(kinesis, five):
    token = kinesis.list_shards(StreamName=five, MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamARN=stream_arn(five), NextToken=token)
    assert_client_error(e, "InvalidArgumentException", ["NextToken"],
                        message="NextToken and StreamARN cannot be provided together.")


def test_list_shards_next_token_with_exclusive_start_is_invalid(kinesis, five):
    token = kinesis.list_shards(StreamName=five, MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(NextToken=token, ExclusiveStartShardId=shard_id(0))
    assert_client_error(e, "InvalidArgumentException", ["NextToken"], message=(
        "NextToken and ExclusiveStartShardId cannot be provided together."))


def test_list_shards_needs_stream_or_token(raw_kinesis):
    with pytest.raises(ClientError) as e:
        raw_kinesis.list_shards()
    assert_client_error(e, "InvalidArgumentException", ["NextToken", "StreamName"])


def test_list_shards_missing_stream(kinesis):
    name = "no-such-stream-" + uuid.uuid4().hex[:8]
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamName=name)
    assert_client_error(e, "ResourceNotFoundException", message=not_found_msg(name))


def test_list_shards_invalid_next_token(kinesis):
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(NextToken="not-a-real-token")
    assert_client_error(e, "InvalidArgumentException", ["NextToken"])


@pytest.mark.parametrize("ftype", ["AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST"])
def test_list_shards_filter_simple(kinesis, five, ftype):
    resp = kinesis.list_shards(StreamName=five, ShardFilter={"Type": ftype})
    assert ids(resp["Shards"]) == [shard_id(i) for i in range(5)]


@pytest.mark.parametrize("ftype", ["AT_TIMESTAMP", "FROM_TIMESTAMP"])
def test_list_shards_filter_timestamp(kinesis, five, ftype):
    now = dt.datetime.now(dt.timezone.utc)
    resp = kinesis.list_shards(StreamName=five, ShardFilter={"Type": ftype, "Timestamp": now})
    assert ids(resp["Shards"]) == [shard_id(i) for i in range(5)]


def test_list_shards_filter_after_shard_id(kinesis, five):
    resp = kinesis.list_shards(StreamName=five,
                               ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": shard_id(1)})
    assert ids(resp["Shards"]) == [shard_id(2), shard_id(3), shard_id(4)]


def test_list_shards_filter_after_shard_id_needs_shard_id(kinesis, five):
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamName=five, ShardFilter={"Type": "AFTER_SHARD_ID"})
    assert_client_error(e, {"InvalidArgumentException", "ValidationException"}, ["ShardId"])


@pytest.mark.parametrize("ftype", ["AT_TIMESTAMP", "FROM_TIMESTAMP"])
def test_list_shards_filter_timestamp_needs_timestamp(kinesis, five, ftype):
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamName=five, ShardFilter={"Type": ftype})
    assert_client_error(e, {"InvalidArgumentException", "ValidationException"}, ["Timestamp"])
