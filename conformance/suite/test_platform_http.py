"""Platform regression over HTTP/JSON: the same refusals as over gRPC, with the clause in a ``google.rpc.Status``
body (400), 401 and 415, and the status table (ST-PROTO-035). They run wherever the platform's HTTP address is
known: the mock, or a ``--url`` with an http(s):// address after the gRPC one (else not applicable, with that fix).
The reference device ``ref`` (registered over gRPC) is a fixture of ``conftest.py``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from santong.conformance import CouldNotRun, Evidence, not_applicable
from santong.conformance._platform import PlatformHandle
from santong.conformance._refdevice import BAD_UPLOADS, RefDevice
from santong.protocols import to_dict

pytestmark = pytest.mark.subject("platform")


# ------------------------------------------------------------------------------------------ HTTP / JSON


def _http(
    handle: PlatformHandle, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    if handle.http_url is None:
        not_applicable(
            "transport",
            "未给出平台的 HTTP/JSON 地址：在 --url 中加上它，用逗号分隔（grpc://主机:50051,http://主机:8080）",
            "no HTTP/JSON address of the platform was given: add it to --url after a comma "
            "(grpc://host:50051,http://host:8080)",
        )
    req = urllib.request.Request(handle.http_url + path, data=body, headers=headers, method="POST")
    context = None
    if handle.ca_pem is not None and handle.http_url.startswith("https://"):
        import ssl  # noqa: PLC0415

        context = ssl.create_default_context(cadata=handle.ca_pem.decode("ascii"))
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"{}")
        except ValueError:
            return e.code, {"raw": raw[:200].decode("utf-8", "replace")}
    except OSError as e:
        raise CouldNotRun(f"HTTP 接口无应答 / the HTTP API at {handle.http_url} does not answer: {e}") from e


def _clauses(doc: dict[str, Any]) -> list[str]:
    return [v.get("reason", "") for d in doc.get("details", []) for v in d.get("fieldViolations", [])]


def _json_batch(ref: RefDevice, **change: Any) -> dict[str, Any]:
    b = to_dict(ref.batch([0.41, 0.0]))
    b.update(change)
    return {"batch": b}


HTTP_BAD = (
    ("ST-DATA-030", "local time without a zone", lambda r: _json_batch(r, base_time="2025-01-15 10:30:00")),
    ("ST-DATA-034", "unknown field", lambda r: _json_batch(r, colour="red")),
    ("ST-DATA-035", "wrong JSON type", lambda r: _json_batch(r, sequence="seven")),
    ("ST-DATA-036", "malformed JSON", None),
)


@pytest.mark.parametrize(
    ("clause_id", "build"),
    [pytest.param(c, b, marks=pytest.mark.clause(c, "ST-IFACE-015"), id=f"{c} {n}") for c, n, b in HTTP_BAD],
)
def test_http_json_rejected(
    clause_id: str, build: Any, ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence
) -> None:
    """Over HTTP/JSON the bad document gets 400 and a google.rpc.Status naming the clause."""
    body = b'{"batch": {"sequence": 1,' if build is None else json.dumps(build(ref)).encode("utf-8")
    headers = {
        "content-type": "application/json",
        "x-santong-device-id": ref.device_id,
        "authorization": f"Bearer {ref.token}",
    }
    status, doc = _http(santong_platform, "/v1/device/report-observations", body, headers)
    evidence.record("status", status)
    evidence.sample("answer", doc)
    assert status == 400, (
        f"[ST-IFACE-015] HTTP 状态为 {status}，应为 400 / HTTP status {status}, expected 400"
    )
    assert clause_id in _clauses(doc), (
        f"[{clause_id}] 错误详情没有指出条款 / the error does not name {clause_id}: {doc}"
    )


@pytest.mark.clause("ST-IFACE-002", "ST-IFACE-009", "ST-IFACE-015")
def test_same_semantics_over_http(
    ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence
) -> None:
    """The same call has the same meaning over HTTP/JSON: accepted, refused with the same clause, 401 without
    credentials, 415 for another content type."""
    headers = {
        "content-type": "application/json",
        "x-santong-device-id": ref.device_id,
        "authorization": f"Bearer {ref.token}",
    }
    ok_status, ok = _http(
        santong_platform, "/v1/device/report-observations", json.dumps(_json_batch(ref)).encode(), headers
    )
    evidence.sample("accepted", ok)
    assert ok_status == 200 and ok.get("ack", {}).get("status") == "ACK_STATUS_ACCEPTED", (
        f"[ST-IFACE-002] HTTP 上的合规批次未被接受 / a valid batch over HTTP was not accepted: {ok_status} {ok}"
    )
    ref.next_sequence += 1
    bad = BAD_UPLOADS[[c.clause for c in BAD_UPLOADS].index("ST-DATA-019")]  # a switch value of 0.5
    grpc_err = ref.expect_error(bad.method, bad.build(ref))
    doc = to_dict(bad.build(ref))
    st, http_err = _http(
        santong_platform, "/v1/device/report-observations", json.dumps(doc).encode(), headers
    )
    evidence.record("grpc", grpc_err.as_dict() if grpc_err else None)
    evidence.sample("http", http_err)
    assert grpc_err is not None and st == 400 and set(grpc_err.clause_ids) == set(_clauses(http_err)), (
        f"[ST-IFACE-002] gRPC 与 HTTP 的拒收不一致 / gRPC and HTTP refuse differently: {grpc_err and grpc_err.clause_ids} vs {st} {_clauses(http_err)}"
    )
    no_auth = {"content-type": "application/json"}
    st401, _ = _http(
        santong_platform, "/v1/device/report-observations", json.dumps(_json_batch(ref)).encode(), no_auth
    )
    st415, _ = _http(
        santong_platform,
        "/v1/device/report-observations",
        b"batch=1",
        {**headers, "content-type": "text/plain"},
    )
    evidence.record("statuses", {"no_credentials": st401, "text_plain": st415})
    assert st401 == 401, (
        f"[ST-IFACE-015] 无凭据应为 401，实际 {st401} / no credentials gave {st401}, expected 401"
    )
    assert st415 == 415, (
        f"[ST-IFACE-009] 非 JSON 内容类型应为 415，实际 {st415} / a non-JSON content type gave {st415}"
    )


@pytest.mark.clause("ST-PROTO-035")
def test_status_table_over_http(ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence) -> None:
    """Over HTTP every error carries the gRPC code of the status table with its HTTP status; 409 is told apart by
    the code: a sequence conflict is ALREADY_EXISTS (6), not FAILED_PRECONDITION (9)."""
    from santong.protocols import GRPC_CODES, HTTP_STATUS  # noqa: PLC0415

    headers = {
        "content-type": "application/json",
        "x-santong-device-id": ref.device_id,
        "authorization": f"Bearer {ref.token}",
    }
    doc = _json_batch(ref)
    path = "/v1/device/report-observations"
    first, _ = _http(santong_platform, path, json.dumps(doc).encode(), headers)
    ref.next_sequence += 1
    clash = json.loads(json.dumps(doc))
    clash["batch"]["value"][0] = 0.33 if clash["batch"]["value"][0] != 0.33 else 0.34
    got = {
        "ALREADY_EXISTS": _http(santong_platform, path, json.dumps(clash).encode(), headers),
        "UNAUTHENTICATED": _http(
            santong_platform, path, json.dumps(doc).encode(), {**headers, "authorization": "Bearer wrong"}
        ),
        "INVALID_ARGUMENT": _http(santong_platform, path, b'{"batch": {}, "batch": {}}', headers),
    }
    evidence.record("answers", {k: [st, body.get("code")] for k, (st, body) in got.items()})
    assert first == 200, f"[ST-PROTO-035] 合规批次未被接受 / a valid batch was not accepted: {first}"
    for code, (status, body) in got.items():
        assert status == HTTP_STATUS[code] and body.get("code") == GRPC_CODES[code], (
            f"[ST-PROTO-035] {code} 应为 HTTP {HTTP_STATUS[code]}、响应体 code {GRPC_CODES[code]}，实际 {status} "
            f"{body.get('code')} / {code} must be HTTP {HTTP_STATUS[code]} with code {GRPC_CODES[code]} in the body, "
            f"got {status} {body.get('code')}"
        )
