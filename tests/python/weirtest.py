"""Shared helpers for the weir Python integration tests.

Importable from any test module (pytest's default `prepend` import mode puts
this directory on sys.path).
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import uuid
import weakref
from pathlib import Path
from typing import Any, Iterable

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT_ID = "000000000000"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "secret"
TARGET_PREFIX = "Kinesis_20131202."
JSON_CT = "application/x-amz-json-1.1"
CBOR_CT = "application/x-amz-cbor-1.1"

MiB = 1024 * 1024
HASH_MAX = 2**128 - 1


def weir_bin() -> Path:
    p = os.environ.get("WEIR_BIN")
    if p:
        path = Path(p)
        if not path.is_absolute():
            path = REPO_ROOT / path
        return path
    return REPO_ROOT / "target" / "debug" / "weir"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.25):
            return True
    except OSError:
        return False


_HELP_CACHE: dict[str, str] = {}


def serve_help() -> str:
    b = str(weir_bin())
    if b not in _HELP_CACHE:
        try:
            p = subprocess.run([b, "serve", "--help"], capture_output=True, text=True, timeout=30)
            _HELP_CACHE[b] = p.stdout + p.stderr
        except OSError:
            _HELP_CACHE[b] = ""
    return _HELP_CACHE[b]


def supports_flag(flag: str) -> bool:
    return flag in serve_help()


def unthrottled_args() -> list[str]:
    """Extra serve flags that turn off AWS's per-shard throughput limits (if this weir build
    has them), so that API-semantics tests are not at the mercy of timing. The limits
    themselves are tested in test_throughput.py with the defaults."""
    return ["--throughput-limits", "off"] if supports_flag("--throughput-limits") else []


class ServerStartError(RuntimeError):
    pass


_LIVE_SERVERS: "weakref.WeakSet[WeirServer]" = weakref.WeakSet()


@atexit.register
def _kill_leftover_servers() -> None:
    # Last line of defence if a fixture's teardown did not run.
    for server in list(_LIVE_SERVERS):
        try:
            server.kill()
        except Exception:
            pass


class WeirServer:
    """A weir server process on 127.0.0.1 with its own data dir."""

    def __init__(self, data_dir: str | Path | None = None, extra_args: Iterable[str] = (),
                 durability: str = "fsync"):
        self._own_root = tempfile.mkdtemp(prefix="weir-test-")
        self.root = Path(self._own_root)
        self.data_dir = Path(data_dir) if data_dir else self.root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.extra_args = list(extra_args)
        self.durability = durability
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self._log_index = 0
        self.log_path: Path | None = None
        self._log_file = None
        self.starts = 0

    # ----------------------------------------------------------------- info
    @property
    def endpoint(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 4000) -> str:
        if not self.log_path or not self.log_path.exists():
            return "<no server log>"
        data = self.log_path.read_bytes()
        return data[-n:].decode("utf-8", "replace")

    def command(self) -> list[str]:
        return [str(weir_bin()), "serve", "--listen", f"127.0.0.1:{self.port}",
                "--data-dir", str(self.data_dir), "--durability", self.durability,
                *self.extra_args]

    # ------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 20.0, port: int | None = None) -> None:
        binary = weir_bin()
        if not binary.exists():
            raise ServerStartError(
                f"weir binary not found at {binary}; build it with `cargo build --bin weir` "
                f"or set WEIR_BIN")
        assert not self.is_running(), "server already running"
        attempts = 0
        while True:
            attempts += 1
            self.port = port or self.port or free_port()
            self._spawn()
            try:
                self._wait_ready(timeout)
                self.starts += 1
                return
            except ServerStartError as e:
                # The port may have been grabbed by someone else between
                # free_port() and bind(); retry once on a fresh port.
                log = self.log_tail().lower()
                if attempts < 3 and ("address already in use" in log or "addrinuse" in log):
                    self.port = free_port()
                    port = None
                    continue
                raise e

    def _spawn(self) -> None:
        self._log_index += 1
        self.log_path = self.root / f"server-{self._log_index}.log"
        self._log_file = open(self.log_path, "wb")
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        self.proc = subprocess.Popen(self.command(), stdout=self._log_file,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        _LIVE_SERVERS.add(self)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._close_log()
                raise ServerStartError(
                    f"weir exited with code {self.proc.returncode} during startup.\n"
                    f"command: {' '.join(self.command())}\n--- server output ---\n{self.log_tail()}")
            if _port_answers(self.port):
                # The port accepts connections; make sure HTTP is answered too.
                try:
                    requests.post(self.endpoint + "/", data=b"{}", timeout=2,
                                  headers={"Content-Type": JSON_CT,
                                           "X-Amz-Target": TARGET_PREFIX + "ListStreams",
                                           **fake_auth_headers()})
                    return
                except requests.RequestException:
                    pass
            time.sleep(0.05)
        self.kill()
        raise ServerStartError(
            f"weir did not answer on port {self.port} within {timeout}s.\n"
            f"command: {' '.join(self.command())}\n--- server output ---\n{self.log_tail()}")

    def _close_log(self) -> None:
        if self._log_file:
            try:
                self._log_file.close()
            except OSError:
                pass
            self._log_file = None

    def stop(self, timeout: float = 10.0) -> int | None:
        """Graceful stop (SIGTERM), escalating to SIGKILL after `timeout`."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close_log()
        return self.proc.returncode

    def kill(self) -> None:
        """Hard crash (SIGKILL)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_log()

    def restart(self, graceful: bool = True, timeout: float = 20.0) -> None:
        """Restart on the same data dir (and, if possible, the same port)."""
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start(timeout=timeout, port=self.port)

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self._own_root, ignore_errors=True)
        if not str(self.data_dir).startswith(self._own_root):
            shutil.rmtree(self.data_dir, ignore_errors=True)


# ---------------------------------------------------------------- clients
def make_client(endpoint: str, *, validate: bool = True, max_attempts: int = 2,
                read_timeout: float = 30, connect_timeout: float = 5, **config_kw):
    cfg = Config(
        region_name=REGION,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        parameter_validation=validate,
        **config_kw,
    )
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                    aws_secret_access_key=SECRET_KEY,
                                    region_name=REGION)
    return session.client("kinesis", endpoint_url=endpoint, config=cfg)


def unique_name(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def stream_arn(name: str, region: str = REGION, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:kinesis:{region}:{account}:stream/{name}"


WAITER_CONFIG = {"Delay": 0.25, "MaxAttempts": 60}


def wait_active(client, name: str) -> None:
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=WAITER_CONFIG)


def create_stream(client, name: str | None = None, shards: int | None = 1, *, mode: str | None = None,
                  wait: bool = True, **kw) -> str:
    name = name or unique_name()
    args: dict[str, Any] = {"StreamName": name, **kw}
    if shards is not None and mode != "ON_DEMAND":
        args["ShardCount"] = shards
    if mode:
        args["StreamModeDetails"] = {"StreamMode": mode}
    client.create_stream(**args)
    if wait:
        wait_active(client, name)
    return name


def list_all_shards(client, name: str) -> list[dict]:
    shards = []
    resp = client.list_shards(StreamName=name)
    shards.extend(resp["Shards"])
    while resp.get("NextToken"):
        resp = client.list_shards(NextToken=resp["NextToken"])
        shards.extend(resp["Shards"])
    return shards


def shard_id(i: int) -> str:
    return f"shardId-{i:012d}"


def hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def expected_ranges(n: int) -> list[tuple[int, int]]:
    step = 2**128 // n
    out = []
    for i in range(n):
        start = i * step
        end = HASH_MAX if i == n - 1 else (i + 1) * step - 1
        out.append((start, end))
    return out


def expected_shard_index(partition_key: str, n: int) -> int:
    h = hash_key(partition_key)
    for i, (s, e) in enumerate(expected_ranges(n)):
        if s <= h <= e:
            return i
    raise AssertionError("hash outside all ranges")


def read_shard(client, stream: str, shard: str, *, iterator_type: str = "TRIM_HORIZON",
               max_calls: int = 10000, limit: int | None = None, **it_kw) -> list[dict]:
    """Read a shard until caught up (an empty page with MillisBehindLatest == 0)."""
    it = client.get_shard_iterator(StreamName=stream, ShardId=shard,
                                   ShardIteratorType=iterator_type, **it_kw)["ShardIterator"]
    records: list[dict] = []
    empty_streak = 0
    for _ in range(max_calls):
        kw = {"ShardIterator": it}
        if limit:
            kw["Limit"] = limit
        try:
            resp = client.get_records(**kw)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ProvisionedThroughputExceededException":
                raise
            time.sleep(0.25)  # per-shard read limits (5 calls/s): back off like a consumer
            continue
        records.extend(resp["Records"])
        it = resp.get("NextShardIterator")
        if not it:
            break
        if not resp["Records"]:
            if resp.get("MillisBehindLatest", 0) == 0:
                empty_streak += 1
                if empty_streak >= 2:
                    break
        else:
            empty_streak = 0
    return records


# ------------------------------------------------------------ raw requests
def fake_auth_headers() -> dict[str, str]:
    """A SigV4-looking Authorization header (signatures are not verified)."""
    now = dt.datetime.now(dt.timezone.utc)
    return {
        "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{now:%Y%m%d}/{REGION}/kinesis/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64),
    }


def signed_headers(endpoint: str, op: str, body: bytes, content_type: str = JSON_CT,
                   extra: dict | None = None, path: str = "/") -> dict[str, str]:
    """Properly SigV4-signed headers (AKIDEXAMPLE/secret), as boto3 would send them."""
    headers = {"Content-Type": content_type, "X-Amz-Target": TARGET_PREFIX + op}
    if extra:
        headers.update(extra)
    req = botocore.awsrequest.AWSRequest(method="POST", url=endpoint + path, data=body,
                                         headers=headers)
    creds = botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY)
    botocore.auth.SigV4Auth(creds, "kinesis", REGION).add_auth(req)
    return dict(req.headers.items())


def raw_call(endpoint: str, op: str | None, body: bytes | str, *, content_type: str = JSON_CT,
             auth: bool = True, target: str | None = None, headers: dict | None = None,
             timeout: float = 30) -> requests.Response:
    if isinstance(body, str):
        body = body.encode()
    if auth:
        h = signed_headers(endpoint, op or "", body, content_type)
    else:
        h = {"Content-Type": content_type, "X-Amz-Target": TARGET_PREFIX + (op or "")}
    if target is not None:
        h["X-Amz-Target"] = target
    if headers:
        h.update(headers)
    return requests.post(endpoint + "/", data=body, headers=h, timeout=timeout)


def json_call(endpoint: str, op: str, payload: dict, **kw) -> tuple[int, dict, requests.Response]:
    r = raw_call(endpoint, op, json.dumps(payload), **kw)
    try:
        parsed = r.json() if r.content else {}
    except ValueError:
        parsed = {"<unparsable>": r.text}
    return r.status_code, parsed, r


def error_type(body: dict, resp: requests.Response | None = None) -> str:
    """The error code the way SDKs derive it (header first, then __type/code)."""
    code = None
    if resp is not None:
        code = resp.headers.get("x-amzn-ErrorType")
    if not code:
        code = body.get("__type") or body.get("code") or body.get("Code") or ""
    code = code.split(":")[0]
    if "#" in code:
        code = code.rsplit("#", 1)[1]
    return code


def error_message(body: dict) -> str:
    return body.get("message") or body.get("Message") or ""


def assert_raw_error(status: int, body: dict, resp, code: str | set[str], fields: Iterable[str] = (),
                     http_status: int = 400, message: str | None = None) -> None:
    codes = {code} if isinstance(code, str) else set(code)
    got = error_type(body, resp)
    assert status == http_status, f"expected HTTP {http_status}, got {status}: {body}"
    assert got in codes, f"expected error {codes}, got {got!r}: {body}"
    if message is not None:
        assert error_message(body) == message, \
            f"message mismatch: {error_message(body)!r} != {message!r}"
    _assert_fields(error_message(body), fields, body)


def not_found_msg(stream: str, account: str = ACCOUNT_ID) -> str:
    """Exact AWS text for a missing stream (confirmed in /work/notes/kinesis-errors.md)."""
    return f"Stream {stream} under account {account} not found."


def validation_msg(*violations: tuple[str, str, str]) -> str:
    """Exact AWS ValidationException text. Each violation is (value, path, constraint);
    value is printed quoted unless it is None (printed as the bare word null)."""
    parts = []
    for value, path, constraint in violations:
        v = "null" if value is None else f"'{value}'"
        parts.append(f"Value {v} at '{path}' failed to satisfy constraint: {constraint}")
    n = len(parts)
    head = "1 validation error detected: " if n == 1 else f"{n} validation errors detected: "
    return head + "; ".join(parts)


def _assert_fields(msg: str, fields: Iterable[str], ctx: Any) -> None:
    fields = list(fields)
    if not fields:
        return
    low = (msg or "").lower()
    assert any(f.lower() in low for f in fields), \
        f"error message {msg!r} should name one of {fields} (full error: {ctx})"


def assert_client_error(excinfo, code: str | set[str], fields: Iterable[str] = (),
                        message: str | None = None, http_status: int = 400) -> None:
    """Check a botocore ClientError captured by pytest.raises."""
    err = excinfo.value if hasattr(excinfo, "value") else excinfo
    assert isinstance(err, ClientError), f"not a ClientError: {err!r}"
    codes = {code} if isinstance(code, str) else set(code)
    e = err.response.get("Error", {})
    got = e.get("Code")
    assert got in codes, f"expected error {codes}, got {got!r}: {err.response}"
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    assert status == http_status, f"expected HTTP {http_status}, got {status}: {err.response}"
    msg = e.get("Message", "")
    if message is not None:
        assert msg == message, f"message mismatch: {msg!r} != {message!r}"
    _assert_fields(msg, fields, err.response)


# ------------------------------------------------------------------- CBOR
class Tag:
    def __init__(self, tag: int, value: Any):
        self.tag, self.value = tag, value

    def __repr__(self) -> str:  # pragma: no cover
        return f"Tag({self.tag}, {self.value!r})"


_BREAK = object()


class CborError(ValueError):
    pass


def cbor_decode(data: bytes) -> Any:
    """Strict minimal CBOR decoder; tags are returned as Tag objects (unlike cbor2,
    which would turn tag 1 + epoch *millis* into a bogus datetime)."""
    value, pos = _cbor_item(data, 0)
    if value is _BREAK:
        raise CborError("unexpected break")
    if pos != len(data):
        raise CborError(f"trailing bytes after CBOR item ({len(data) - pos})")
    return value


def _cbor_uint(data: bytes, pos: int, info: int) -> tuple[int | None, int]:
    if info < 24:
        return info, pos
    sizes = {24: 1, 25: 2, 26: 4, 27: 8}
    if info in sizes:
        n = sizes[info]
        if pos + n > len(data):
            raise CborError("truncated")
        return int.from_bytes(data[pos:pos + n], "big"), pos + n
    if info == 31:
        return None, pos
    raise CborError(f"bad additional info {info}")


def _cbor_item(data: bytes, pos: int) -> tuple[Any, int]:
    if pos >= len(data):
        raise CborError("truncated")
    ib = data[pos]
    pos += 1
    major, info = ib >> 5, ib & 0x1F
    if major == 7:
        if info == 20:
            return False, pos
        if info == 21:
            return True, pos
        if info in (22, 23):
            return None, pos
        if info == 25:
            (h,) = struct.unpack(">e", data[pos:pos + 2])
            return h, pos + 2
        if info == 26:
            (f,) = struct.unpack(">f", data[pos:pos + 4])
            return f, pos + 4
        if info == 27:
            (d,) = struct.unpack(">d", data[pos:pos + 8])
            return d, pos + 8
        if info == 31:
            return _BREAK, pos
        if info < 24:
            return Tag(-1, info), pos
        raise CborError(f"bad simple value {info}")
    arg, pos = _cbor_uint(data, pos, info)
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        if arg is None:
            chunks = []
            while True:
                item, pos = _cbor_item(data, pos)
                if item is _BREAK:
                    break
                chunks.append(item)
            return (b"".join(chunks) if major == 2 else "".join(chunks)), pos
        raw = data[pos:pos + arg]
        if len(raw) != arg:
            raise CborError("truncated string")
        return (bytes(raw) if major == 2 else raw.decode("utf-8")), pos + arg
    if major == 4:
        out = []
        if arg is None:
            while True:
                item, pos = _cbor_item(data, pos)
                if item is _BREAK:
                    break
                out.append(item)
        else:
            for _ in range(arg):
                item, pos = _cbor_item(data, pos)
                out.append(item)
        return out, pos
    if major == 5:
        m = {}
        count = 0
        while arg is None or count < arg:
            k, pos = _cbor_item(data, pos)
            if k is _BREAK:
                if arg is not None:
                    raise CborError("unexpected break in map")
                break
            v, pos = _cbor_item(data, pos)
            m[k] = v
            count += 1
        return m, pos
    if major == 6:
        v, pos = _cbor_item(data, pos)
        return Tag(arg, v), pos
    raise CborError("unreachable")


def cbor_call(endpoint: str, op: str, body: bytes, **kw) -> tuple[int, Any, requests.Response]:
    r = raw_call(endpoint, op, body, content_type=CBOR_CT, **kw)
    parsed = cbor_decode(r.content) if r.content else {}
    return r.status_code, parsed, r


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
