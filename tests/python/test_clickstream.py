"""End to end, the seeds' most common pipeline: producers → Kinesis stream → delivery stream
(KinesisStreamAsSource, dynamic partitioning with a jq query by event type and date, JSON →
Parquet with the schema from a Glue table) → a directory laid out for Athena; then a query over
the result with an independent reader (pyarrow) returns exactly the counts produced.

The stream is resharded while the producers run, so the delivery stream must follow the shard
lineage to deliver everything.
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from weirtest import ACCOUNT_ID, REGION, create_stream, make_client, unique_name

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

EVENT_TYPES = ["click", "view", "purchase", "signup"]
DAYS = ["2026-11-29", "2026-11-30", "2026-12-01"]
PRODUCERS = 3
BATCHES_PER_PRODUCER = 12
RECORDS_PER_BATCH = 100


def client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="AKIDWEIRTEST", aws_secret_access_key="secret",
                        config=Config(retries={"max_attempts": 3, "mode": "standard"}))


def event(rng: random.Random, producer: int, n: int) -> dict:
    day = rng.choice(DAYS)
    return {
        "event_type": rng.choice(EVENT_TYPES),
        "event_time": f"{day}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
        "user_id": rng.randrange(1, 10_000),
        "page": f"/p/{rng.randrange(50)}",
        "price": round(rng.random() * 100, 2),
        "producer": producer,
        "n": n,
    }


def parquet_rows(root: Path) -> list[tuple[str, dict]]:
    """(key relative to the bucket, row) for every row of every delivered Parquet object."""
    rows = []
    for f in sorted(root.rglob("*")):
        head, sep, tail = f.name.rpartition("#")
        if not f.is_file() or f.name.startswith(".") or (sep and tail.isdigit()):
            continue  # not an object yet: object_store's staging file
        key = f.relative_to(root).as_posix()
        if not key.startswith("events/"):
            continue
        try:
            table = pq.read_table(f)
        except FileNotFoundError:
            continue
        for row in table.to_pylist():
            rows.append((key, row))
    return rows


def test_clickstream_to_partitioned_parquet(fresh_server):
    endpoint = fresh_server.endpoint
    kinesis = make_client(endpoint)
    firehose = client("firehose", endpoint)
    glue = client("glue", endpoint)

    stream = unique_name("clicks")
    create_stream(kinesis, stream, 2)
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{stream}"

    glue.create_database(DatabaseInput={"Name": "web"})
    glue.create_table(DatabaseName="web", TableInput={
        "Name": "clicks",
        "StorageDescriptor": {"Columns": [
            {"Name": "event_type", "Type": "string"},
            {"Name": "event_time", "Type": "string"},
            {"Name": "user_id", "Type": "bigint"},
            {"Name": "page", "Type": "string"},
            {"Name": "price", "Type": "double"},
            {"Name": "producer", "Type": "int"},
            {"Name": "n", "Type": "int"},
        ]},
    })

    bucket = unique_name("lake")
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/firehose"
    name = unique_name("clicks-to-lake")
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": role},
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "events/type=!{partitionKeyFromQuery:event_type}/"
                      "dt=!{partitionKeyFromQuery:dt}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 0},
            "DynamicPartitioningConfiguration": {"Enabled": True},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{
                "Type": "MetadataExtraction",
                "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery",
                     "ParameterValue": "{event_type: .event_type, dt: .event_time[0:10]}"},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                ],
            }]},
            "DataFormatConversionConfiguration": {
                "Enabled": True,
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {
                    "Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}},
                "SchemaConfiguration": {"DatabaseName": "web", "TableName": "clicks",
                                        "RoleARN": role, "Region": REGION},
            },
        },
    )
    deadline = time.time() + 30
    while firehose.describe_delivery_stream(DeliveryStreamName=name)[
            "DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
        assert time.time() < deadline, "the delivery stream never became ACTIVE"
        time.sleep(0.2)

    produced: collections.Counter = collections.Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def produce(producer: int) -> None:
        try:
            c = make_client(endpoint)
            rng = random.Random(producer)
            for b in range(BATCHES_PER_PRODUCER):
                events = [event(rng, producer, b * RECORDS_PER_BATCH + i)
                          for i in range(RECORDS_PER_BATCH)]
                pending = [{"Data": json.dumps(e).encode(), "PartitionKey": str(e["user_id"])}
                           for e in events]
                while pending:
                    out = c.put_records(StreamName=stream, Records=pending)
                    pending = [r for r, res in zip(pending, out["Records"])
                               if "ErrorCode" in res]
                with lock:
                    for e in events:
                        produced[(e["event_type"], e["event_time"][:10])] += 1
        except BaseException as e:  # noqa: BLE001 - re-raised in the test thread
            errors.append(e)

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(PRODUCERS)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    # Reshard while producing: the delivery stream must read parents to their end, then children.
    kinesis.update_shard_count(StreamName=stream, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    for t in threads:
        t.join()
    assert not errors, errors
    total = PRODUCERS * BATCHES_PER_PRODUCER * RECORDS_PER_BATCH
    assert sum(produced.values()) == total

    root = Path(fresh_server.data_dir) / "s3" / bucket
    deadline = time.time() + 90
    rows: list = []
    while time.time() < deadline:
        rows = parquet_rows(root) if root.exists() else []
        if len({(r["producer"], r["n"]) for _, r in rows}) >= total:
            break
        time.sleep(0.5)

    unique = {(r["producer"], r["n"]): (key, r) for key, r in rows}
    assert len(unique) == total, f"delivered {len(unique)} of {total} events"
    errors_written = [p for p in (root / "errors").rglob("*") if p.is_file()]
    assert not errors_written, f"records went to the error prefix: {errors_written}"

    # Every object sits under the partition its rows belong to (Hive-style keys for Athena).
    for key, r in unique.values():
        assert key.startswith(f"events/type={r['event_type']}/dt={r['event_time'][:10]}/"), key

    # The query over the lake, with an independent reader, returns exactly what was produced.
    import pyarrow.dataset as ds
    lake = ds.dataset(str(root / "events"), format="parquet", partitioning="hive")
    table = lake.to_table(columns=["event_type", "event_time", "producer", "n"])
    assert table.schema.field("event_time").type == pa.string()
    counted: collections.Counter = collections.Counter()
    seen = set()
    for row in table.to_pylist():
        if (row["producer"], row["n"]) in seen:
            continue  # at-least-once: a duplicate object is possible only around a crash
        seen.add((row["producer"], row["n"]))
        counted[(row["event_type"], row["event_time"][:10])] += 1
    assert counted == produced
    assert table.num_rows == total, "no duplicates without a crash"


def test_direct_put_to_orc_reads_back_with_pyarrow(weir_server, endpoint):
    """The same pipeline with the ORC serializer: pyarrow reads the delivered objects."""
    orc = pytest.importorskip("pyarrow.orc")
    firehose = client("firehose", endpoint)
    glue = client("glue", endpoint)
    db = unique_name("orcdb").replace("-", "_")
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(DatabaseName=db, TableInput={"Name": "events", "StorageDescriptor": {
        "Columns": [{"Name": "event_type", "Type": "string"}, {"Name": "n", "Type": "bigint"},
                    {"Name": "price", "Type": "double"}]}})
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/firehose"
    bucket, name = unique_name("orc-lake"), unique_name("to-orc")
    firehose.create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": role, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "orc/",
            "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 0},
            "DataFormatConversionConfiguration": {
                "Enabled": True,
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"OrcSerDe": {"Compression": "ZLIB"}}},
                "SchemaConfiguration": {"DatabaseName": db, "TableName": "events",
                                        "RoleARN": role, "Region": REGION}}})
    deadline = time.time() + 30
    while firehose.describe_delivery_stream(DeliveryStreamName=name)[
            "DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
        assert time.time() < deadline
        time.sleep(0.1)
    sent = [{"event_type": EVENT_TYPES[i % 4], "n": i, "price": i / 4} for i in range(200)]
    out = firehose.put_record_batch(DeliveryStreamName=name,
                                    Records=[{"Data": json.dumps(e).encode()} for e in sent])
    assert out["FailedPutCount"] == 0
    root = Path(weir_server.data_dir) / "s3" / bucket / "orc"
    rows: list = []
    deadline = time.time() + 60
    while time.time() < deadline and len(rows) < len(sent):
        rows = []
        for f in sorted(root.rglob("*.orc")) if root.exists() else []:
            try:
                rows.extend(orc.read_table(str(f)).to_pylist())
            except (FileNotFoundError, OSError):
                rows = []
                break
        time.sleep(0.3)
    assert sorted(rows, key=lambda r: r["n"]) == sent
