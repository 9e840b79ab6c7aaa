"""A delivery stream whose bucket is mapped to an S3-compatible server: moto's server mode
(`moto[server]` from PyPI), started here on loopback. weir writes the objects through the S3 API
(object_store), and boto3 reads them back from moto.

moto is a pip install that scripts/test already performs, where s3s-fs would be a multi-minute
cargo install on every CI machine; the price is that moto does not verify SigV4 signatures.
"""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
import time

import boto3
import pytest
import requests
from botocore.config import Config

from weirtest import REGION, WeirServer, unique_name, unthrottled_args

pytest.importorskip("moto.server", reason="pip install 'moto[server]'")

ROLE = "arn:aws:iam::000000000000:role/firehose"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                requests.get(url, timeout=1)
                break
            except requests.RequestException:
                assert proc.poll() is None, "moto exited"
                assert time.time() < deadline, "moto did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_objects_land_in_an_s3_compatible_store(moto, tmp_path):
    s3 = boto3.client("s3", endpoint_url=moto, region_name=REGION, aws_access_key_id="test",
                      aws_secret_access_key="test", config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="remote-lake")
    config = tmp_path / "weir.toml"
    config.write_text(f"""
[buckets.lake.S3]
endpoint = "{moto}"
region = "{REGION}"
access_key_id = "test"
secret_access_key = "test"
path_style = true
bucket = "remote-lake"
""")
    server = WeirServer(extra_args=[*unthrottled_args(), "--config", str(config)])
    server.start()
    try:
        fh = boto3.client("firehose", endpoint_url=server.endpoint, region_name=REGION,
                          aws_access_key_id="a", aws_secret_access_key="b")
        name = unique_name("to-s3")
        fh.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::lake", "Prefix": "raw/",
                "ErrorOutputPrefix": "errors/", "CompressionFormat": "GZIP",
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
        deadline = time.time() + 20
        while fh.describe_delivery_stream(DeliveryStreamName=name)[
                "DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
            assert time.time() < deadline
            time.sleep(0.1)
        records = [f'{{"n": {i}}}\n'.encode() for i in range(300)]
        for i in range(0, 300, 100):
            out = fh.put_record_batch(DeliveryStreamName=name,
                                      Records=[{"Data": r} for r in records[i:i + 100]])
            assert out["FailedPutCount"] == 0
        got = b""
        keys: list[str] = []
        deadline = time.time() + 30
        while time.time() < deadline:
            listed = s3.list_objects_v2(Bucket="remote-lake", Prefix="raw/").get("Contents", [])
            keys = [o["Key"] for o in listed]
            got = b"".join(gzip.decompress(s3.get_object(Bucket="remote-lake", Key=k)["Body"].read())
                           for k in sorted(keys))
            if len(got) >= sum(map(len, records)):
                break
            time.sleep(0.3)
        assert sorted(got.splitlines()) == sorted(r.rstrip(b"\n") for r in records)
        for k in keys:
            assert k.startswith("raw/") and k.endswith(".gz") and f"/{name}-1-" in k, k
        assert not (server.data_dir / "s3" / "lake").exists(), "nothing went to a local directory"
    finally:
        server.cleanup()
