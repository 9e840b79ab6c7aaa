"""Resharding through boto3: SplitShard, MergeShards and UpdateShardCount lineage and hash
ranges, routing after a reshard, ListShards filters across lineage, reading a closed parent to
its end (ChildShards), and AWS's errors for every invalid request."""

import time

import pytest
from botocore.exceptions import ClientError

from weirtest import (ACCOUNT_ID, HASH_MAX, expected_ranges, hash_key, list_all_shards,
                      read_shard, shard_id)


def wait_active(kinesis, name, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if s["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} did not return to ACTIVE")


def open_shards(kinesis, name):
    shards = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    return sorted(shards, key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))


def test_split_closes_the_parent_and_opens_two_children(kinesis, make_stream):
    name = make_stream(2)
    mid = 2**126
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(mid))
    status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
    assert status in ("UPDATING", "ACTIVE")
    wait_active(kinesis, name)
    shards = {s["ShardId"]: s for s in list_all_shards(kinesis, name)}
    parent = shards[shard_id(0)]
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    c1, c2 = shards[shard_id(2)], shards[shard_id(3)]
    assert c1["ParentShardId"] == c2["ParentShardId"] == shard_id(0)
    assert "AdjacentParentShardId" not in c1
    assert c1["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(mid - 1)}
    assert c2["HashKeyRange"] == {"StartingHashKey": str(mid),
                                  "EndingHashKey": parent["HashKeyRange"]["EndingHashKey"]}
    assert int(c1["SequenceNumberRange"]["StartingSequenceNumber"]) > int(
        parent["SequenceNumberRange"]["EndingSequenceNumber"])
    # DescribeStream shows the same lineage; the open count is 3.
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3


def test_writes_route_to_children_and_readers_reach_child_shards(kinesis, make_stream):
    name = make_stream(1)
    kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"before")
    mid = 2**127
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(mid))
    r = kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"after")
    assert r["ShardId"] == (shard_id(1) if hash_key("a") < mid else shard_id(2))
    r = kinesis.put_record(StreamName=name, PartitionKey="x", Data=b"explicit",
                           ExplicitHashKey=str(HASH_MAX))
    assert r["ShardId"] == shard_id(2)
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = kinesis.get_records(ShardIterator=it)
    assert [rec["Data"] for rec in out["Records"]] == [b"before"]
    assert "NextShardIterator" not in out or out["NextShardIterator"] is None
    children = out["ChildShards"]
    assert [c["ShardId"] for c in children] == [shard_id(1), shard_id(2)]
    assert all(c["ParentShards"] == [shard_id(0)] for c in children)
    assert children[0]["HashKeyRange"]["EndingHashKey"] == str(mid - 1)


def test_merge_and_list_shards_filters_across_lineage(kinesis, make_stream):
    name = make_stream(2)
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(2**126))
    wait_active(kinesis, name)
    kinesis.merge_shards(StreamName=name, ShardToMerge=shard_id(2), AdjacentShardToMerge=shard_id(3))
    wait_active(kinesis, name)
    shards = {s["ShardId"]: s for s in list_all_shards(kinesis, name)}
    merged = shards[shard_id(4)]
    assert merged["ParentShardId"] == shard_id(2)
    assert merged["AdjacentParentShardId"] == shard_id(3)
    assert merged["HashKeyRange"]["StartingHashKey"] == "0"

    def ids(filter_):
        return [s["ShardId"] for s in kinesis.list_shards(StreamName=name, ShardFilter=filter_)["Shards"]]

    assert ids({"Type": "AT_LATEST"}) == [shard_id(1), shard_id(4)]
    assert ids({"Type": "AT_TRIM_HORIZON"}) == [shard_id(0), shard_id(1)]
    assert ids({"Type": "FROM_TRIM_HORIZON"}) == [shard_id(i) for i in range(5)]
    assert ids({"Type": "AFTER_SHARD_ID", "ShardId": shard_id(2)}) == [shard_id(3), shard_id(4)]
    future = time.time() + 3600
    assert ids({"Type": "AT_TIMESTAMP", "Timestamp": future}) == [shard_id(1), shard_id(4)]
    assert ids({"Type": "FROM_TIMESTAMP", "Timestamp": 0}) == [shard_id(i) for i in range(5)]


@pytest.mark.parametrize("start,target", [(2, 3), (4, 2), (3, 6), (5, 4)])
def test_update_shard_count_reaches_uniform_ranges(kinesis, make_stream, start, target):
    name = make_stream(start)
    out = kinesis.update_shard_count(StreamName=name, TargetShardCount=target,
                                     ScalingType="UNIFORM_SCALING")
    assert out["CurrentShardCount"] == start
    assert out["TargetShardCount"] == target
    assert out["StreamName"] == name
    wait_active(kinesis, name)
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
              for s in open_shards(kinesis, name)]
    assert ranges == expected_ranges(target)
    # Every shard names only parents that exist, at most two.
    shards = {s["ShardId"]: s for s in list_all_shards(kinesis, name)}
    for s in shards.values():
        for key in ("ParentShardId", "AdjacentParentShardId"):
            if key in s:
                assert s[key] in shards


def test_records_survive_reshards_exactly_once(kinesis, make_stream):
    name = make_stream(2)
    sent = []
    for round_ in range(3):
        for i in range(30):
            data = f"{round_}-{i}".encode()
            kinesis.put_record(StreamName=name, PartitionKey=f"k{i}", Data=data)
            sent.append(data)
        shards = open_shards(kinesis, name)
        s = shards[0]
        lo, hi = int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])
        kinesis.split_shard(StreamName=name, ShardToSplit=s["ShardId"],
                            NewStartingHashKey=str(lo + (hi - lo) // 2))
        wait_active(kinesis, name)
    got = []
    for s in list_all_shards(kinesis, name):
        got.extend(r["Data"] for r in read_shard(kinesis, name, s["ShardId"]))
    assert sorted(got) == sorted(sent)


def code(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_reshard_errors(kinesis, make_stream):
    name = make_stream(2)
    acct = ACCOUNT_ID
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(7), NewStartingHashKey="10")
    assert code(e) == ("ResourceNotFoundException",
                       f"Could not find shard {shard_id(7)} in stream {name} under account {acct}.")
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey="1")
    c, m = code(e)
    assert c == "InvalidArgumentException"
    assert m.startswith(f"NewStartingHashKey 1 used in SplitShard() on shard {shard_id(0)} in stream {name} under account {acct} is not both greater than one plus the shard's StartingHashKey 0")
    with pytest.raises(ClientError) as e:
        kinesis.merge_shards(StreamName=name, ShardToMerge=shard_id(0), AdjacentShardToMerge=shard_id(0))
    assert code(e)[0] == "InvalidArgumentException"
    assert "are not an adjacent pair of shards eligible for merging" in code(e)[1]
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName=name, TargetShardCount=5, ScalingType="UNIFORM_SCALING")
    assert code(e) == ("LimitExceededException",
                       "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 2, Target shard count: 5")
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName=name, TargetShardCount=3, ScalingType="BAD")
    assert code(e)[0] == "ValidationException" and "scalingType" in code(e)[1]
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(2**100))
    wait_active(kinesis, name)
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(2**90))
    assert code(e) == ("InvalidArgumentException",
                       f"Shard {shard_id(0)} in stream {name} under account {acct} has already been merged or split, and thus is not eligible for merging or splitting.")


def test_on_demand_streams_refuse_manual_resharding(kinesis, make_stream):
    name = make_stream(None, mode="ON_DEMAND")
    assert len(open_shards(kinesis, name)) == 4
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName=name, TargetShardCount=5, ScalingType="UNIFORM_SCALING")
    assert code(e) == ("ValidationException",
                       f"Request is invalid. Stream {name} under account {ACCOUNT_ID} is in On-Demand mode.")
