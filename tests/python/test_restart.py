"""Durability across restarts (graceful SIGTERM and SIGKILL) on the same data dir."""

import os
import random

import pytest

from weirtest import create_stream, list_all_shards, make_client, read_shard, stream_arn

pytestmark = pytest.mark.slow


def _snapshot(client, names):
    """Everything about the streams that must survive a restart."""
    snap = {}
    for n in names:
        s = client.describe_stream_summary(StreamName=n)["StreamDescriptionSummary"]
        shards = list_all_shards(client, n)
        tags = client.list_tags_for_stream(StreamName=n)["Tags"]
        records = {}
        for sh in shards:
            records[sh["ShardId"]] = [
                (r["SequenceNumber"], r["PartitionKey"], r["Data"],
                 r["ApproximateArrivalTimestamp"])
                for r in read_shard(client, n, sh["ShardId"])]
        snap[n] = {
            "arn": s["StreamARN"],
            "status": s["StreamStatus"],
            "retention": s["RetentionPeriodHours"],
            "mode": s.get("StreamModeDetails"),
            "open_shards": s["OpenShardCount"],
            "created": s["StreamCreationTimestamp"],
            "monitoring": sorted(m for em in s["EnhancedMonitoring"]
                                 for m in em.get("ShardLevelMetrics", [])),
            "max_record": s.get("MaxRecordSizeInKiB"),
            "shards": shards,
            "tags": sorted((t["Key"], t.get("Value", "")) for t in tags),
            "records": records,
        }
    return snap


def _populate(client):
    rnd = random.Random(42)
    a = create_stream(client, "restart-a", 1, Tags={"owner": "alice", "env": "test"})
    b = create_stream(client, "restart-b", 4)
    c = create_stream(client, "restart-c", None, mode="ON_DEMAND")
    client.increase_stream_retention_period(StreamName=a, RetentionPeriodHours=72)
    client.increase_stream_retention_period(StreamName=b, RetentionPeriodHours=8760)
    client.add_tags_to_stream(StreamName=b, Tags={"k1": "v1", "k2": ""})
    client.tag_resource(ResourceARN=stream_arn(c), Tags={"via": "arn"})
    client.enable_enhanced_monitoring(StreamName=b, ShardLevelMetrics=["IncomingBytes"])
    client.get_waiter("stream_exists").wait(StreamName=b, WaiterConfig={"Delay": 0.25,
                                                                         "MaxAttempts": 60})
    payloads = [b"", bytes(range(256)), os.urandom(200_000), b"\x00" * 1000]
    payloads += [os.urandom(rnd.randint(1, 3000)) for _ in range(30)]
    for i, p in enumerate(payloads):
        client.put_record(StreamName=a, Data=p, PartitionKey=f"pk{i}")
    client.put_records(StreamName=b, Records=[{"Data": os.urandom(rnd.randint(0, 2000)),
                                               "PartitionKey": f"key-{i}"} for i in range(200)])
    client.put_record(StreamName=c, Data=b"on-demand", PartitionKey="1")
    return [a, b, c]


def _assert_same(before, after):
    assert after.keys() == before.keys()
    for n in before:
        assert after[n]["status"] == "ACTIVE", n
        for k in before[n]:
            if k == "status":
                continue
            assert after[n][k] == before[n][k], f"{n}: {k} changed across restart"


def test_restart_graceful_then_sigkill(fresh_server):
    client = make_client(fresh_server.endpoint)
    names = _populate(client)
    before = _snapshot(client, names)
    assert sum(len(v) for v in before["restart-b"]["records"].values()) == 200
    assert before["restart-a"]["retention"] == 72
    assert before["restart-b"]["retention"] == 8760

    # 1) graceful stop (SIGTERM) and start again on the same data dir
    rc = fresh_server.stop()
    assert rc == 0, f"graceful shutdown exit code {rc}\n{fresh_server.log_tail()}"
    fresh_server.start()
    client = make_client(fresh_server.endpoint)
    after = _snapshot(client, names)
    _assert_same(before, after)

    # Writes continue after the restart with higher sequence numbers.
    last = before["restart-a"]["records"]["shardId-000000000000"][-1][0]
    r = client.put_record(StreamName="restart-a", Data=b"after-restart-1", PartitionKey="x")
    assert int(r["SequenceNumber"]) > int(last)

    # 2) SIGKILL and start again: acknowledged writes (fsync durability) survive.
    before2 = _snapshot(client, names)
    fresh_server.restart(graceful=False)
    client = make_client(fresh_server.endpoint)
    after2 = _snapshot(client, names)
    _assert_same(before2, after2)
    r2 = client.put_record(StreamName="restart-a", Data=b"after-restart-2", PartitionKey="x")
    assert int(r2["SequenceNumber"]) > int(r["SequenceNumber"])
    data = [x["Data"] for x in read_shard(client, "restart-a", "shardId-000000000000")]
    assert data[-2:] == [b"after-restart-1", b"after-restart-2"]


def test_deleted_stream_stays_deleted(fresh_server):
    client = make_client(fresh_server.endpoint)
    keep = create_stream(client, "keep-me", 1)
    gone = create_stream(client, "delete-me", 1)
    client.put_record(StreamName=gone, Data=b"x", PartitionKey="k")
    client.delete_stream(StreamName=gone)
    client.get_waiter("stream_not_exists").wait(StreamName=gone,
                                                WaiterConfig={"Delay": 0.25, "MaxAttempts": 60})
    fresh_server.restart(graceful=False)
    client = make_client(fresh_server.endpoint)
    names = client.list_streams()["StreamNames"]
    assert keep in names and gone not in names
    # The name can be reused for a new, empty stream.
    create_stream(client, gone, 1)
    assert read_shard(client, gone, "shardId-000000000000") == []


def test_sequence_numbers_monotonic_across_restarts(fresh_server):
    client = make_client(fresh_server.endpoint)
    name = create_stream(client, "mono", 1)
    seqs = []
    for round_ in range(3):
        for i in range(5):
            seqs.append(int(client.put_record(StreamName=name, Data=f"{round_}-{i}".encode(),
                                              PartitionKey="k")["SequenceNumber"]))
        fresh_server.restart(graceful=(round_ % 2 == 0))
        client = make_client(fresh_server.endpoint)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    got = read_shard(client, name, "shardId-000000000000")
    assert [int(r["SequenceNumber"]) for r in got] == seqs
    # An iterator taken before a restart may be rejected or still work, but a
    # fresh AT_SEQUENCE_NUMBER iterator works after it.
    it = client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                   ShardIteratorType="AT_SEQUENCE_NUMBER",
                                   StartingSequenceNumber=str(seqs[7]))["ShardIterator"]
    assert int(client.get_records(ShardIterator=it)["Records"][0]["SequenceNumber"]) == seqs[7]
