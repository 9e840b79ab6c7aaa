"""Writes the seed corpus for the fuzz targets (run once; the seeds are committed)."""

import json
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).parent / "corpus"
OPS = ["AddTagsToStream", "CreateStream", "DecreaseStreamRetentionPeriod", "DeleteStream",
       "DescribeStream", "DescribeStreamSummary", "EnableEnhancedMonitoring", "GetRecords",
       "GetShardIterator", "IncreaseStreamRetentionPeriod", "ListShards", "ListStreams",
       "ListTagsForStream", "MergeShards", "PutRecord", "PutRecords", "RegisterStreamConsumer",
       "RemoveTagsFromStream", "SplitShard", "TagResource", "UpdateShardCount", "UpdateStreamMode"]

KINESIS = {
    "CreateStream": {"StreamName": "f", "ShardCount": 2, "Tags": {"a": "b"}},
    "PutRecord": {"StreamName": "s", "PartitionKey": "pk", "Data": "aGVsbG8=", "ExplicitHashKey": "5"},
    "PutRecords": {"StreamName": "s", "Records": [{"PartitionKey": "a", "Data": "eA=="},
                                                  {"PartitionKey": "b", "Data": ""}]},
    "GetShardIterator": {"StreamName": "s", "ShardId": "shardId-000000000000",
                         "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": 1700000000.5},
    "GetRecords": {"ShardIterator": "AAAA", "Limit": 10},
    "ListShards": {"StreamName": "s", "ShardFilter": {"Type": "AFTER_SHARD_ID", "ShardId": "shardId-0"},
                   "MaxResults": 1},
    "SplitShard": {"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "100"},
    "MergeShards": {"StreamName": "s", "ShardToMerge": "shardId-000000000000",
                    "AdjacentShardToMerge": "shardId-000000000001"},
    "UpdateShardCount": {"StreamName": "s", "TargetShardCount": 3, "ScalingType": "UNIFORM_SCALING"},
    "AddTagsToStream": {"StreamName": "s", "Tags": {"k": "v"}},
    "ListStreams": {"Limit": 1, "ExclusiveStartStreamName": "a"},
    "UpdateStreamMode": {"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
                         "StreamModeDetails": {"StreamMode": "ON_DEMAND"}},
}


def cbor(v):
    """A tiny CBOR encoder for the seeds (maps, arrays, text, ints, floats, bools)."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | info]) + struct.pack(fmt, n)
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(v)


def eventstream(headers, payload):
    hb = b""
    for name, value in headers:
        n = name.encode()
        val = value.encode()
        hb += bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(val)) + val
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hb))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    msg = prelude + hb + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


def batch(records):
    payload = b""
    for i, (key, data) in enumerate(records):
        k = key.encode()
        payload += struct.pack("<IBH", i, 0, len(k)) + k + struct.pack("<I", len(data)) + data
    header = b"WEIR" + bytes([1, 0]) + b"\0\0" + b"\0\0\0\0"
    header += struct.pack("<QIqqI", 7, len(records), 1700000000000, 1700000000005, len(payload))
    return header + payload


AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0123456789abcdef")
DATE = "20261201T000000Z"


def http1(target, body, extra=b""):
    """One HTTP/1.1 request to the Kinesis front end."""
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: {target}\r\n"
            f"Authorization: {AUTH}\r\nX-Amz-Date: {DATE}\r\n"
            f"Content-Type: application/x-amz-json-1.1\r\nContent-Length: {len(body)}\r\n").encode()
    return head + extra + b"\r\n" + body


def http2(target, body):
    """An HTTP/2 (prior knowledge) connection with one request, built with the h2 library."""
    import h2.config
    import h2.connection
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "POST"), (":path", "/"), (":scheme", "http"),
                          (":authority", "127.0.0.1"), ("x-amz-target", target),
                          ("authorization", AUTH), ("x-amz-date", DATE),
                          ("content-type", "application/x-amz-json-1.1"),
                          ("content-length", str(len(body)))])
    conn.send_data(1, body, end_stream=True)
    return conn.data_to_send()


FIREHOSE_OPS = ["CreateDeliveryStream", "DeleteDeliveryStream", "DescribeDeliveryStream",
                "ListDeliveryStreams", "UpdateDestination", "PutRecord", "PutRecordBatch",
                "TagDeliveryStream", "UntagDeliveryStream", "ListTagsForDeliveryStream",
                "StartDeliveryStreamEncryption", "StopDeliveryStreamEncryption"]

S3_DEST = {"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::b",
           "Prefix": "p/!{partitionKeyFromQuery:k}/!{timestamp:yyyy}/",
           "ErrorOutputPrefix": "e/!{firehose:error-output-type}/",
           "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
           "CompressionFormat": "GZIP",
           "DynamicPartitioningConfiguration": {"Enabled": True},
           "ProcessingConfiguration": {"Enabled": True, "Processors": [{
               "Type": "MetadataExtraction", "Parameters": [
                   {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{k: .k}"},
                   {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]}}

FIREHOSE = {
    "CreateDeliveryStream": {"DeliveryStreamName": "d", "DeliveryStreamType": "DirectPut",
                             "ExtendedS3DestinationConfiguration": S3_DEST,
                             "Tags": [{"Key": "k", "Value": "v"}]},
    "PutRecord": {"DeliveryStreamName": "d", "Record": {"Data": "eyJrIjoxfQ=="}},
    "PutRecordBatch": {"DeliveryStreamName": "d", "Records": [{"Data": "eyJrIjoxfQ=="},
                                                               {"Data": ""}]},
    "UpdateDestination": {"DeliveryStreamName": "d", "CurrentDeliveryStreamVersionId": "1",
                          "DestinationId": "destinationId-000000000001",
                          "ExtendedS3DestinationUpdate": {"Prefix": "x/"}},
    "ListDeliveryStreams": {"Limit": 1, "DeliveryStreamType": "DirectPut"},
    "TagDeliveryStream": {"DeliveryStreamName": "d", "Tags": [{"Key": "a", "Value": "b"}]},
}


def main():
    for d in ("kinesis", "eventstream", "segment_batch"):
        (ROOT / d).mkdir(parents=True, exist_ok=True)
    for op, body in KINESIS.items():
        i = OPS.index(op)
        (ROOT / "kinesis" / f"{op}.json").write_bytes(bytes([0, i]) + json.dumps(body).encode())
        cb = {k: (v if k != "Data" else b"hello") for k, v in body.items()}
        (ROOT / "kinesis" / f"{op}.cbor").write_bytes(bytes([1, i]) + cbor(cb))
    (ROOT / "eventstream" / "initial").write_bytes(eventstream(
        [(":message-type", "event"), (":event-type", "initial-response")], b"{}"))
    (ROOT / "eventstream" / "two").write_bytes(
        eventstream([(":message-type", "event")], b'{"Records":[]}') +
        eventstream([(":message-type", "exception"), (":exception-type", "X")], b"{}"))
    (ROOT / "http").mkdir(exist_ok=True)
    put = json.dumps(KINESIS["PutRecord"]).encode()
    (ROOT / "http" / "put_record").write_bytes(http1("Kinesis_20131202.PutRecord", put))
    (ROOT / "http" / "pipelined").write_bytes(
        http1("Kinesis_20131202.ListStreams", b"{}") + http1("Kinesis_20131202.PutRecord", put))
    chunked = (b"POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n"
               + f"Authorization: {AUTH}\r\nX-Amz-Date: {DATE}\r\n".encode()
               + b"Content-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               + f"{len(put):x}\r\n".encode() + put + b"\r\n0\r\n\r\n")
    (ROOT / "http" / "chunked").write_bytes(chunked)
    (ROOT / "http" / "health").write_bytes(b"GET /health HTTP/1.1\r\nHost: h\r\n\r\n")
    (ROOT / "http" / "h2_put_record").write_bytes(http2("Kinesis_20131202.PutRecord", put))
    (ROOT / "firehose").mkdir(exist_ok=True)
    for i, op in enumerate(FIREHOSE_OPS):
        body = FIREHOSE.get(op, {"DeliveryStreamName": "d"})
        (ROOT / "firehose" / op).write_bytes(bytes([i]) + json.dumps(body).encode())
    for target, body in [
        ("Firehose_20150804.CreateDeliveryStream", FIREHOSE["CreateDeliveryStream"]),
        ("AWSGlue.CreateTable", {"DatabaseName": "db", "TableInput": {
            "Name": "t", "StorageDescriptor": {"Columns": [
                {"Name": "a", "Type": "array<struct<b:decimal(10,2),c:map<string,int>>>"}]}}}),
        ("AWSEvents.PutRule", {"Name": "r", "ScheduleExpression": "cron(0 12 L * ? *)"}),
    ]:
        name = target.replace(".", "_")
        (ROOT / "http" / name).write_bytes(http1(target, json.dumps(body).encode()))
    (ROOT / "segment_batch" / "three").write_bytes(b"\x01" + batch([("a", b"x"), ("bb", b""), ("c", b"y" * 40)]))


if __name__ == "__main__":
    main()
