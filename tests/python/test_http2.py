"""HTTP/2 cleartext with prior knowledge (what the Java SDK v2 Netty client does) on the
same port as HTTP/1.1."""

import json
import socket
from urllib.parse import urlparse

import h2.config
import h2.connection
import h2.events
import httpx

from weirtest import JSON_CT, b64, read_shard, shard_id, signed_headers, unique_name, wait_active


def test_httpx_h2c_prior_knowledge(endpoint, kinesis, stream):
    body = json.dumps({"StreamName": stream, "Data": b64(b"over-h2"), "PartitionKey": "k"}).encode()
    headers = signed_headers(endpoint, "PutRecord", body)
    headers.pop("Host", None)
    with httpx.Client(http1=False, http2=True, timeout=10) as c:
        r = c.post(endpoint + "/", content=body, headers=headers)
        assert r.http_version == "HTTP/2"
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(JSON_CT)
        out = r.json()
        assert out["ShardId"] == shard_id(0)
        assert out["SequenceNumber"].isdigit()
        # Several requests multiplexed on the same connection.
        b2 = json.dumps({"StreamName": stream}).encode()
        for _ in range(3):
            r2 = c.post(endpoint + "/", content=b2,
                        headers={k: v for k, v in signed_headers(
                            endpoint, "DescribeStreamSummary", b2).items() if k != "Host"})
            assert r2.status_code == 200
            assert r2.json()["StreamDescriptionSummary"]["StreamName"] == stream
        # Errors are ordinary JSON errors under h2 too.
        b3 = json.dumps({"StreamName": "no-such-" + stream}).encode()
        r3 = c.post(endpoint + "/", content=b3,
                    headers={k: v for k, v in signed_headers(
                        endpoint, "DescribeStreamSummary", b3).items() if k != "Host"})
        assert r3.status_code == 400
        assert r3.json()["__type"].split("#")[-1] == "ResourceNotFoundException"
    assert [r["Data"] for r in read_shard(kinesis, stream, shard_id(0))] == [b"over-h2"]


def _h2_request(endpoint: str, op: str, body: bytes, timeout: float = 10.0):
    """One request with the bare `h2` library over a raw socket (prior knowledge)."""
    u = urlparse(endpoint)
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        hdrs = signed_headers(endpoint, op, body)
        req_headers = [(":method", "POST"), (":scheme", "http"), (":authority", u.netloc),
                       (":path", "/"), ("content-length", str(len(body)))]
        req_headers += [(k.lower(), v) for k, v in hdrs.items() if k.lower() != "host"]
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, req_headers)
        conn.send_data(sid, body, end_stream=True)
        sock.sendall(conn.data_to_send())
        status, resp_headers, data = None, {}, b""
        done = False
        while not done:
            chunk = sock.recv(65536)
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived):
                    resp_headers = {k.decode() if isinstance(k, bytes) else k:
                                    v.decode() if isinstance(v, bytes) else v
                                    for k, v in ev.headers}
                    status = int(resp_headers[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done = True
            sock.sendall(conn.data_to_send())
        return status, resp_headers, data
    finally:
        sock.close()


def test_raw_h2_library(endpoint, kinesis):
    name = unique_name("h2")
    status, headers, data = _h2_request(endpoint, "CreateStream",
                                        json.dumps({"StreamName": name, "ShardCount": 1}).encode())
    assert status == 200, data
    wait_active(kinesis, name)
    try:
        status, headers, data = _h2_request(endpoint, "DescribeStreamSummary",
                                            json.dumps({"StreamName": name}).encode())
        assert status == 200, data
        assert headers["content-type"].startswith(JSON_CT)
        assert headers.get("x-amzn-requestid")
        assert json.loads(data)["StreamDescriptionSummary"]["StreamName"] == name
    finally:
        kinesis.delete_stream(StreamName=name)


def test_http1_still_works_on_same_port(endpoint):
    with httpx.Client(http1=True, http2=False, timeout=10) as c:
        body = b'{"Limit": 1}'
        r = c.post(endpoint + "/", content=body,
                   headers={k: v for k, v in signed_headers(endpoint, "ListStreams", body).items()
                            if k != "Host"})
        assert r.http_version == "HTTP/1.1"
        assert r.status_code == 200


def test_h2_large_body(endpoint, kinesis, stream):
    # A body (~1.4 MB) much larger than the default 64 KiB h2 flow-control window.
    data = (bytes(range(256)) * 4096)[: 1024 * 1024 - 1]
    body = json.dumps({"StreamName": stream, "Data": b64(data), "PartitionKey": "k"}).encode()
    with httpx.Client(http1=False, http2=True, timeout=30) as c:
        r = c.post(endpoint + "/", content=body,
                   headers={k: v for k, v in signed_headers(endpoint, "PutRecord", body).items()
                            if k != "Host"})
        assert r.status_code == 200, r.text
    assert [r["Data"] for r in read_shard(kinesis, stream, shard_id(0))] == [data]
