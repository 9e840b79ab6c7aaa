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


# --- sustained rates: offered twice the capacity, a shard accepts about its capacity -------------
#
# Each limit is a token bucket holding one second of capacity, so over T seconds a shard accepts
# about capacity x (T + 1). The tolerance is +-20 %: the test's own pacing on a loaded 2-core
# machine is the imprecise part, not the buckets.

SECONDS = 3.0


def _offer(seconds, interval, send):
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < seconds:
        send()
        n += 1
        next_at = t0 + n * interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return time.monotonic() - t0


def test_twice_the_record_rate_is_held_to_about_1000_records_per_second(tclient):
    name = create_stream(tclient, None, 1)
    accepted = 0

    def send():
        nonlocal accepted
        resp = tclient.put_records(StreamName=name, Records=[
            {"Data": b"x" * 10, "PartitionKey": str(i)} for i in range(100)])
        accepted += 100 - resp["FailedRecordCount"]

    # 2,000 records/s offered: 100 records every 50 ms.
    elapsed = _offer(SECONDS, 0.05, send)
    expected = 1000 * (elapsed + 1)
    assert 0.8 * expected <= accepted <= 1.2 * expected, (accepted, expected)


def test_twice_the_byte_rate_is_held_to_about_1_mib_per_second(tclient):
    name = create_stream(tclient, None, 1)
    accepted = 0
    record = b"y" * (64 * 1024)

    def send():
        nonlocal accepted
        resp = tclient.put_records(StreamName=name, Records=[
            {"Data": record, "PartitionKey": str(i)} for i in range(4)])
        accepted += (4 - resp["FailedRecordCount"]) * (len(record) + 1)

    # 2 MiB/s offered: 256 KiB every 125 ms.
    elapsed = _offer(SECONDS, 0.125, send)
    expected = 1024 * 1024 * (elapsed + 1)
    assert 0.8 * expected <= accepted <= 1.2 * expected, (accepted, expected)


def test_twice_the_read_call_rate_is_held_to_about_5_calls_per_second(tclient):
    name = create_stream(tclient, None, 1)
    tclient.put_record(StreamName=name, Data=b"r", PartitionKey="k")
    it = tclient.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    ok = 0

    def send():
        nonlocal ok, it
        try:
            it = tclient.get_records(ShardIterator=it)["NextShardIterator"]
            ok += 1
        except ClientError as e:
            assert e.response["Error"]["Code"] == THROTTLED
            assert e.response["Error"]["Message"].startswith("Rate exceeded for Shard - ")

    # 10 calls/s offered.
    elapsed = _offer(SECONDS, 0.1, send)
    expected = 5 * (elapsed + 1)
    assert 0.8 * expected <= ok <= 1.2 * expected + 1, (ok, expected)


def test_read_bytes_are_held_to_about_2_mib_per_second(tclient):
    name = create_stream(tclient, None, 1)
    record = b"z" * (256 * 1024)
    for _ in range(24):  # 6 MiB, written within the write limit
        tclient.put_record(StreamName=name, Data=record, PartitionKey="k")
        time.sleep(0.26)
    it = tclient.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = 0
    t0 = time.monotonic()
    throttled = 0
    while got < 24 and time.monotonic() - t0 < 10:
        try:
            resp = tclient.get_records(ShardIterator=it, Limit=4)
            got += len(resp["Records"])
            it = resp["NextShardIterator"]
        except ClientError as e:
            assert e.response["Error"]["Code"] == THROTTLED
            throttled += 1
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    assert got == 24
    assert throttled > 0, "6 MiB read in a burst was never throttled"
    # 6 MiB at 2 MiB/s with one second of burst: about 2 s.
    assert elapsed >= 1.5, elapsed
