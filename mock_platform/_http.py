"""The HTTP/JSON transport of the mock platform: a Starlette app on uvicorn (httptools + uvloop).

Same operations, semantics and errors as the gRPC transport (ST-IFACE-002): every body is decoded by the one
validation core (``santong.protocols.decode_json``: JSON stage and fast path), then ``Platform.call`` runs the
rules, stores and answers; errors are the JSON form of ``google.rpc.Status`` with a ``google.rpc.BadRequest``
whose reasons are clause IDs (ST-IFACE-003), with the HTTP status of ST-IFACE-015.

Transport guards: content type ``application/json`` (415, ST-IFACE-009); bodies read incrementally and cut off
at ``Limits.max_message_bytes`` (413, ST-PROTO-009); a deadline on the body (408); a deadline and a size cap on
the request head (slow-loris connections are closed, see :func:`guarded_protocol`).

Rooms: ``_http_json`` status and response bodies; ``_http_request`` headers, guards, body reading and decoding
(auth before body); ``_http_routes`` the endpoints and :func:`create_app`; ``_http_server`` uvicorn, the guarded
protocol and the listening socket. This module re-exports what embedders and tests use.

Example::

    app = create_app(platform)
    server = HttpServer(app, port=0)
    port = await server.start()
    ...
    await server.stop()
"""

from __future__ import annotations

from santong.mock_platform._http_json import response_body, response_dict, status_body, status_dict
from santong.mock_platform._http_request import BODY_TIMEOUT_S, json_content_type, read_body
from santong.mock_platform._http_routes import MAX_WAIT_S, create_app
from santong.mock_platform._http_server import HttpServer, guarded_protocol
from santong.mock_platform._methods import DEVICE_HEADER, INSPECTION_HEADER

__all__ = [
    "BODY_TIMEOUT_S",
    "DEVICE_HEADER",
    "INSPECTION_HEADER",
    "MAX_WAIT_S",
    "HttpServer",
    "create_app",
    "guarded_protocol",
    "json_content_type",
    "read_body",
    "response_body",
    "response_dict",
    "status_body",
    "status_dict",
]
