"""AWS's per-shard throughput limits (the server's default, `--throughput-limits on`).

Writes: 1 MiB/s and 1000 records/s per shard -> ProvisionedThroughputExceededException
(PutRecord: an error response; PutRecords: per-record ErrorCode). Reads: 5 GetRecords
calls/s per shard. Within the limits nothing is throttled.
"""

import os
import time

import pytest
from botocore.exceptions import ClientError

from weirtest import (ACCOUNT_ID, WeirServer, assert_client_error, create_stream, make_client,
                      read_shard, shard_id, supports_flag)

THROTTLED = "ProvisionedThroughputExceededException"


@pytest.fixture(scope="module")
def limited():
    server = WeirServer()  # default flags: limits on
    if supports_flag("--throughput-limits"):
        server.extra_args = ["--throughput-limits", "on"]
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def tclient(limited):
    # No retries: the test wants to see every throttling error.
    return make_client(limited.endpoint, max_attempts=1)


def _rate_msg(stream, shard):
    return f"Rate exceeded for shard {shard} in stream {stream} under account {ACCOUNT_ID}."


def test_within_limits_is_not_throttled(tclient):
    name = create_stream(tclient, None, 2)
    for _ in range(4):
        tclient.put_record(StreamName=name, Data=os.urandom(100_000), PartitionKey="pk")
        tclient.put_records(StreamName=name, Records=[
            {"Data": os.urandom(100), "PartitionKey": "pk"} for _ in range(50)])
        time.sleep(0.3)
    it = tclient.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    for _ in range(3):
        resp = tclient.get_records(ShardIterator=it)
        it = resp["NextShardIterator"]
        time.sleep(0.25)


def test_put_record_bytes_per_second(tclient):
    name = create_stream(tclient, None, 2)
    errors, ok = [], 0
    t0 = time.monotonic()
    for _ in range(12):  # 6 MiB into shard 0 in well under a second
        try:
            tclient.put_record(StreamName=name, Data=b"\x00" * (512 * 1024), PartitionKey="pk")
            ok += 1
        except ClientError as e:
            errors.append(e)
    assert time.monotonic() - t0 < 3
    assert errors, "6 MiB/s into one shard was not throttled"
    assert_client_error(errors[0], THROTTLED, message=_rate_msg(name, shard_id(0)))
    assert ok >= 1
    # Shard 1 is unaffected.
    tclient.put_record(StreamName=name, Data=b"x", PartitionKey="1")


def test_put_records_per_record_throttling(tclient):
    name = create_stream(tclient, None, 2)
    failed_total = 0
    written = []
    for _ in range(4):  # 4 x 500 records x 1 KiB into shard 0: 2000 records, ~2 MiB
        entries = [{"Data": os.urandom(1024), "PartitionKey": "pk"} for _ in range(500)]
        resp = tclient.put_records(StreamName=name, Records=entries)
        failed = [r for r in resp["Records"] if "ErrorCode" in r]
        assert resp["FailedRecordCount"] == len(failed)
        for r in failed:
            assert r["ErrorCode"] == THROTTLED
            assert r["ErrorMessage"] == _rate_msg(name, shard_id(0))
            assert "SequenceNumber" not in r and "ShardId" not in r
        failed_total += len(failed)
        written += [e["Data"] for e, r in zip(entries, resp["Records"]) if "ErrorCode" not in r]
    assert failed_total > 0, "2000 records/2 MiB into one shard at once were not throttled"
    # Failed entries were not stored; successful ones are, in order.
    time.sleep(1.1)
    got = read_shard(tclient, name, shard_id(0))
    assert [r["Data"] for r in got] == written


def test_get_records_calls_per_second(tclient):
    name = create_stream(tclient, None, 2)
    tclient.put_record(StreamName=name, Data=b"x", PartitionKey="pk")
    it = tclient.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    throttled = 0
    for _ in range(20):
        try:
            tclient.get_records(ShardIterator=it)
        except ClientError as e:
            assert e.response["Error"]["Code"] == THROTTLED, e.response
            throttled += 1
    assert throttled > 0, "20 GetRecords calls on one shard in a burst were not throttled"
