"""The AWS CLI against weir (`aws --endpoint-url ... kinesis ...`).

Uses the awscli package of this interpreter (`python -m awscli`, v1) when installed, else an
`aws` on PATH (v1 or v2). v2 needs `--cli-binary-format raw-in-base64-out` for raw --data;
v1 has no such flag and always takes --data as raw text.
"""

import base64
import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from weirtest import ACCESS_KEY, REGION, SECRET_KEY, shard_id, stream_arn, unique_name


@functools.lru_cache(maxsize=None)
def aws_cli() -> tuple[list[str], int]:
    candidates = []
    if importlib.util.find_spec("awscli") is not None:
        candidates.append([sys.executable, "-m", "awscli"])
    if shutil.which("aws"):
        candidates.append([shutil.which("aws")])
    for cmd in candidates:
        try:
            p = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = re.search(r"aws-cli/(\d+)\.", p.stdout + p.stderr)
        if p.returncode == 0 and m:
            return cmd, int(m.group(1))
    pytest.skip("AWS CLI not installed")


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    d = tmp_path_factory.mktemp("awscfg")
    cfg = d / "config"
    cfg.write_text(f"[default]\nregion = {REGION}\noutput = json\n")
    creds = d / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY}\n"
                     f"aws_secret_access_key = {SECRET_KEY}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(cfg),
        "AWS_SHARED_CREDENTIALS_FILE": str(creds),
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "2",
        "AWS_RETRY_MODE": "standard",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


@pytest.fixture(scope="module")
def aws(endpoint, cli_env):
    cmd, major = aws_cli()

    def run(*args, check=True, binary=False):
        argv = cmd + ["--endpoint-url", endpoint, "--output", "json"]
        if binary and major >= 2:
            argv += ["--cli-binary-format", "raw-in-base64-out"]
        argv += list(args)
        p = subprocess.run(argv, capture_output=True, text=True, env=cli_env, timeout=120)
        if check:
            assert p.returncode == 0, f"{' '.join(args)} failed ({p.returncode}):\n{p.stderr}"
            return json.loads(p.stdout) if p.stdout.strip() else {}
        return p

    run.major = major
    return run


def test_cli_end_to_end(aws, kinesis):
    name = unique_name("cli")
    aws("kinesis", "create-stream", "--stream-name", name, "--shard-count", "2")
    deadline = time.time() + 20
    while True:
        s = aws("kinesis", "describe-stream-summary", "--stream-name", name)
        if s["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            break
        assert time.time() < deadline, s
        time.sleep(0.3)
    summ = s["StreamDescriptionSummary"]
    assert summ["StreamName"] == name
    assert summ["StreamARN"] == stream_arn(name)
    assert summ["OpenShardCount"] == 2
    assert summ["RetentionPeriodHours"] == 24

    put = aws("kinesis", "put-record", "--stream-name", name, "--partition-key", "pk",
              "--data", "hello from the cli", binary=True)
    assert put["ShardId"] == shard_id(0)  # MD5("pk") falls in the first half
    seq = put["SequenceNumber"]

    it = aws("kinesis", "get-shard-iterator", "--stream-name", name, "--shard-id", shard_id(0),
             "--shard-iterator-type", "AT_SEQUENCE_NUMBER",
             "--starting-sequence-number", seq)["ShardIterator"]
    recs = aws("kinesis", "get-records", "--shard-iterator", it)
    assert len(recs["Records"]) == 1
    r = recs["Records"][0]
    assert base64.b64decode(r["Data"]) == b"hello from the cli"
    assert r["PartitionKey"] == "pk"
    assert r["SequenceNumber"] == seq
    assert "NextShardIterator" in recs and "MillisBehindLatest" in recs
    # The CLI and boto3 see the same bytes.
    it2 = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                     ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it2)["Records"][0]["Data"] == b"hello from the cli"

    listed = aws("kinesis", "list-streams")
    assert name in listed["StreamNames"]

    tagged = aws("kinesis", "add-tags-to-stream", "--stream-name", name, "--tags", "a=1,b=2")
    assert tagged == {}
    tags = aws("kinesis", "list-tags-for-stream", "--stream-name", name)
    assert {t["Key"]: t["Value"] for t in tags["Tags"]} == {"a": "1", "b": "2"}

    shards = aws("kinesis", "list-shards", "--stream-name", name)
    assert [s["ShardId"] for s in shards["Shards"]] == [shard_id(0), shard_id(1)]

    aws("kinesis", "delete-stream", "--stream-name", name)
    deadline = time.time() + 20
    while True:
        p = aws("kinesis", "describe-stream-summary", "--stream-name", name, check=False)
        if p.returncode != 0:
            assert "ResourceNotFoundException" in p.stderr, p.stderr
            break
        assert time.time() < deadline
        time.sleep(0.3)


def test_cli_put_records_and_paging(aws, kinesis, make_stream):
    name = make_stream(1)
    entries = [{"Data": f"r{i}", "PartitionKey": f"k{i}"} for i in range(5)]
    if aws.major >= 2:
        entries = [{"Data": base64.b64encode(e["Data"].encode()).decode(),
                    "PartitionKey": e["PartitionKey"]} for e in entries]
    out = aws("kinesis", "put-records", "--stream-name", name, "--records", json.dumps(entries))
    assert out["FailedRecordCount"] == 0 and len(out["Records"]) == 5
    recs = [r["Data"] for r in kinesis.get_records(ShardIterator=kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard_id(0),
        ShardIteratorType="TRIM_HORIZON")["ShardIterator"])["Records"]]
    assert recs == [f"r{i}".encode() for i in range(5)]
    # The CLI auto-paginates describe-stream / list-shards.
    d = aws("kinesis", "describe-stream", "--stream-name", name)
    assert d["StreamDescription"]["StreamName"] == name
    assert len(d["StreamDescription"]["Shards"]) == 1


def test_cli_error_exit_code(aws):
    p = aws("kinesis", "describe-stream-summary", "--stream-name", unique_name("nope"),
            check=False)
    assert p.returncode != 0
    assert "ResourceNotFoundException" in p.stderr


def test_cli_retention_and_monitoring(aws, make_stream):
    name = make_stream(1)
    aws("kinesis", "increase-stream-retention-period", "--stream-name", name,
        "--retention-period-hours", "48")
    s = aws("kinesis", "describe-stream-summary", "--stream-name", name)
    assert s["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    out = aws("kinesis", "enable-enhanced-monitoring", "--stream-name", name,
              "--shard-level-metrics", "IncomingBytes")
    assert out["DesiredShardLevelMetrics"] == ["IncomingBytes"]
    lim = aws("kinesis", "describe-limits")
    assert "ShardLimit" in lim and "OpenShardCount" in lim
