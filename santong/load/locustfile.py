"""The Locust file of ``santong load``: every Locust user is one device.

Runs only inside Locust's own processes (started by ``santong load``, or by hand on other machines): importing it
imports Locust, which monkey-patches the process with gevent. Nothing else in santong imports this module.

The scenario comes from the environment: ``SANTONG_LOAD_SCENARIO`` (path of the scenario file). A device
registers, defines its points (built from the simulator profile), then reports one ObservationBatch of every
point per ``interval_s`` (Locust's ``constant_pacing``), with values from the profile's generators.

gRPC under gevent: ``grpc.experimental.gevent.init_gevent()`` makes grpcio's blocking calls cooperative (grpc's
gevent support, as in Locust's "Testing other systems: gRPC" example); each call fires Locust's ``request``
event itself (Locust's documented way for non-HTTP clients). HTTP uses Locust's FastHttpSession.

Distributed runs: the master hands out device indices (custom messages ``santong_slot_request`` /
``santong_slot``) and ends the test itself: it stops the workers, waits for each worker's final statistics and
totals (``santong_done``: acknowledged batches and points), then quits. The master (or a standalone process)
writes the totals, the final request statistics and Locust's CSVs into ``SANTONG_LOAD_OUT`` when it quits.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import time
from typing import Any

import grpc  # noqa: I001  (grpc first: init_gevent must run before any channel exists)
import grpc.experimental.gevent as grpc_gevent

grpc_gevent.init_gevent()

from locust import User, constant_pacing, events, task  # noqa: E402
from locust.contrib.fasthttp import FastHttpSession  # noqa: E402
from locust.exception import StopUser  # noqa: E402
from locust.runners import MasterRunner, WorkerRunner  # noqa: E402

from santong.adapters.simulators import load_profile  # noqa: E402
from santong.adapters.simulators._engine import Simulation  # noqa: E402
from santong.load._devices import DeviceModel, mock_token  # noqa: E402
from santong.load._scenario import load_scenario  # noqa: E402
from santong.protocols import to_dict  # noqa: E402
from santong.protocols.v1 import device_access_pb2 as pb  # noqa: E402
from santong.protocols.v1 import device_access_pb2_grpc as pbg  # noqa: E402

SCENARIO = load_scenario(os.environ["SANTONG_LOAD_SCENARIO"])
PROFILE = load_profile(SCENARIO.profile)
ACCEPTED = {pb.ACK_STATUS_ACCEPTED}
# One connection per device, as in the field (grpcio otherwise shares one connection among equal channels).
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
_totals = {"batches_acked": 0, "points_acked": 0, "devices_started": 0}  # this process's users
_done: dict[str, dict[str, int]] = {}  # master: each worker's final totals, by worker id
_expected: set[str] = set()  # master: the workers of the test


def _count(key: str, n: int) -> None:
    _totals[key] += n


def _tokens() -> Any:
    if SCENARIO.credentials_file is not None:
        from santong.load._scenario import load_credentials

        creds = load_credentials(SCENARIO.credentials_file, [])
        return creds.token
    secret = SCENARIO.inspection_token or ""
    return lambda device_id: mock_token(secret, device_id)


TOKEN = _tokens()


_environment: Any = None


_slots = itertools.count()  # the master's (or a standalone process's) next device index
_waiting: dict[int, Any] = {}  # a worker's users waiting for their device index, by request number
_requests = itertools.count()


def _on_slot_request(environment: Any, msg: Any, **_: Any) -> None:
    """Master: give the asking worker's user the next device index."""
    environment.runner.send_message(
        "santong_slot", {"request": msg.data["request"], "index": next(_slots)}, client_id=msg.node_id
    )


def _on_slot(environment: Any, msg: Any, **_: Any) -> None:
    """Worker: wake the user that asked for this device index."""
    waiter = _waiting.pop(int(msg.data["request"]), None)
    if waiter is not None:
        waiter.set(int(msg.data["index"]))


def _on_done(environment: Any, msg: Any, **_: Any) -> None:
    """Master: a worker's users have stopped; its final totals (its last statistics came before this)."""
    _done[msg.node_id] = {k: int(v) for k, v in msg.data.items()}


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    global _environment
    _environment = environment
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("santong_slot_request", _on_slot_request)
        environment.runner.register_message("santong_done", _on_done)
    elif isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("santong_slot", _on_slot)


@events.test_start.add_listener
def _test_start(environment: Any, **_: Any) -> None:
    """Master: end the test itself after ramp-up + duration (not with Locust's --run-time, whose quit waits only
    0.5 s for the workers' final statistics): stop the workers (their users finish the call in flight), wait
    until every worker sent its final statistics and totals, then quit."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    import gevent

    _expected.update(c.id for c in runner.clients.all)

    def finish() -> None:
        runner.stop()  # sends "stop"; returns once the workers report no running user
        deadline = time.monotonic() + (environment.stop_timeout or 0) + 60
        while not _expected <= set(_done) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        runner.quit()

    gevent.spawn_later(SCENARIO.ramp_up_s + SCENARIO.duration_s, finish)


@events.test_stop.add_listener
def _test_stop(environment: Any, **_: Any) -> None:
    """Worker: every user stopped; send the last statistics, then the final totals (in this order, on one
    connection, so the master has all statistics once it has the totals); then end this worker process."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        import gevent

        runner._send_stats()  # what Locust itself does before quitting; a stop alone would not send them
        runner.send_message("santong_done", dict(_totals))
        # One test per worker process: quit once "client_stopped" is out. Locust's worker would otherwise sleep
        # stop_timeout in its message loop and, no longer the master's client, never get the master's "quit".
        gevent.spawn_later(0.5, runner.greenlet.kill)


def _device_index(runner: Any) -> int:
    """This user's device index (0-based): the master hands them out, so no two users anywhere share a device
    and every device runs, however Locust spreads the users over the workers."""
    if not isinstance(runner, WorkerRunner):
        return next(_slots)
    from gevent.event import AsyncResult

    request, waiter = next(_requests), AsyncResult()
    _waiting[request] = waiter
    runner.send_message("santong_slot_request", {"request": request})
    return int(waiter.get(timeout=120))


@events.quit.add_listener
def _write_results(exit_code: int, **_: Any) -> None:
    """Final results of the master (or standalone) process, written after every user stopped.

    Locust's own ``--csv`` writer rewrites its files every few seconds and may miss the last ones; these CSVs
    (Locust's StatsCSV) and ``santong-results.json`` are written once, from the final statistics."""
    import csv

    from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

    out = os.environ.get("SANTONG_LOAD_OUT")
    env = _environment
    if not out or env is None or isinstance(env.runner, WorkerRunner):
        return
    stats = env.stats
    entries = {e.name: e for e in stats.entries.values()}
    entries["Aggregated"] = stats.total
    if isinstance(env.runner, MasterRunner):
        totals = {k: sum(d.get(k, 0) for d in _done.values()) for k in _totals}
        workers = {"expected": len(_expected), "reported": len(_expected & set(_done))}
    else:
        totals, workers = dict(_totals), {"expected": 0, "reported": 0}
    result = {
        "totals": totals,
        "workers": workers,
        "requests": {
            name: {
                "num_requests": e.num_requests,
                "num_failures": e.num_failures,
                "p50_ms": e.get_response_time_percentile(0.5) if e.num_requests else None,
                "p99_ms": e.get_response_time_percentile(0.99) if e.num_requests else None,
                "max_ms": e.max_response_time if e.num_requests else None,
                # first to last request: the window the achieved rates are measured over
                "window_s": max(e.last_request_timestamp - e.start_time, 0.0)
                if e.last_request_timestamp
                else 0.0,
            }
            for name, e in entries.items()
        },
    }
    writer = StatsCSV(env, PERCENTILES_TO_REPORT)
    for suffix, write in (("stats", writer.requests_csv), ("failures", writer.failures_csv),
                          ("exceptions", writer.exceptions_csv)):  # fmt: skip
        with open(os.path.join(out, f"locust_{suffix}.csv"), "w", encoding="utf-8", newline="") as f:
            write(csv.writer(f))
    with open(os.path.join(out, "santong-results.json"), "w", encoding="utf-8") as f:
        json.dump(result, f)


def _ssl_context(*_: Any, **__: Any) -> Any:
    """TLS for https targets: certificates verified, against target.ca_file when given (else system roots)."""
    import gevent.ssl

    ca = SCENARIO.ca_file
    return gevent.ssl.create_default_context(cafile=str(ca) if ca else None)


def _grpc_target(url: str) -> str:
    return url.split("://", 1)[1].rstrip("/") if "://" in url else url


class Device(User):
    """One device of the scenario: register, define points, then one batch of every point per interval."""

    wait_time = constant_pacing(SCENARIO.interval_s)

    def on_start(self) -> None:
        index = _device_index(self.environment.runner)
        if (
            index >= SCENARIO.devices
        ):  # a user beyond the scenario's devices (a Locust started by hand with more -u)
            logging.getLogger("santong.load").warning("user %d has no device of its own: stopped", index)
            raise StopUser()
        self.model = DeviceModel(SCENARIO, PROFILE, index)
        self.device_id = self.model.device_id
        token = TOKEN(self.device_id)
        self.sim = Simulation(PROFILE, seed=int(hashlib.sha256(self.device_id.encode()).hexdigest()[:8], 16))
        self.headers = {"x-santong-device-id": self.device_id, "authorization": f"Bearer {token}"}
        self.metadata = tuple(self.headers.items())
        if SCENARIO.transport == "grpc":
            target = _grpc_target(SCENARIO.url)
            if SCENARIO.tls:
                ca = SCENARIO.ca_file.read_bytes() if SCENARIO.ca_file else None
                self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(ca), CHANNEL_OPTIONS)
            else:
                self.channel = grpc.insecure_channel(target, CHANNEL_OPTIONS)
            self.stub = pbg.DeviceAccessServiceStub(self.channel)
        else:
            self.http = FastHttpSession(
                SCENARIO.url.rstrip("/"), request_event=self.environment.events.request, user=self,
                insecure=False, ssl_context_factory=_ssl_context,
            )  # fmt: skip
        reg = self._call("Register", self.model.register_request())
        if reg is None:
            raise StopUser()
        self.sequence = int(reg.last_acknowledged_sequence) + 1
        if self._call("DefinePoints", self.model.define_points_request()) is None:
            raise StopUser()
        _count("devices_started", 1)

    def on_stop(self) -> None:
        if SCENARIO.transport == "grpc" and hasattr(self, "channel"):
            self.channel.close()

    def _call(self, method: str, request: Any) -> Any:
        """One call; Locust's request event fired once; the response, or None after a failure."""
        if SCENARIO.transport == "grpc":
            return self._grpc(method, request)
        return self._http(method, request)

    def _grpc(self, method: str, request: Any) -> Any:
        t0 = time.perf_counter()
        response, exc = None, None
        try:
            response = getattr(self.stub, method)(request, metadata=self.metadata, timeout=SCENARIO.timeout_s)
            exc = _ack_problem(response)
        except grpc.RpcError as e:
            exc = RuntimeError(f"{e.code().name}: {e.details()}")  # type: ignore[attr-defined]
        self.environment.events.request.fire(
            request_type="grpc", name=method, response_time=(time.perf_counter() - t0) * 1000,
            response_length=_accepted(response), exception=exc, context={"device": self.device_id},
        )  # fmt: skip
        return None if exc else response

    def _http(self, method: str, request: Any) -> Any:
        from google.protobuf import json_format

        body = json.dumps(_json(request), ensure_ascii=False, separators=(",", ":"))
        path = "/v1/device/" + "".join("-" + c.lower() if c.isupper() else c for c in method).lstrip("-")
        headers = {**self.headers, "content-type": "application/json; charset=utf-8"}
        with self.http.request(
            "POST", path, data=body, headers=headers, name=method, catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}: {(r.text or '')[:200]}")
                return None
            try:
                response = json_format.ParseDict(r.json(), _RESPONSES[method](), ignore_unknown_fields=True)
            except (ValueError, json_format.ParseError) as e:
                r.failure(f"bad response: {e}")
                return None
            problem = _ack_problem(response)
            if problem:
                r.failure(str(problem))
                return None
            r.success()
            return response

    @task
    def report(self) -> None:
        batch = self.model.batch(self.sim, self.sequence)
        response = self._call("ReportObservations", pb.ReportObservationsRequest(batch=batch))
        self.sequence += 1
        if response is not None:
            _count("batches_acked", 1)
            _count("points_acked", int(response.ack.accepted))


_RESPONSES = {
    "Register": pb.RegisterResponse,
    "DefinePoints": pb.DefinePointsResponse,
    "ReportObservations": pb.ReportObservationsResponse,
}


def _json(request: Any) -> dict[str, Any]:
    if isinstance(request, pb.ReportObservationsRequest):  # json_format is slow on the hot path
        b = request.batch
        return {"batch": {"sequence": str(b.sequence), "base_time": b.base_time.ToJsonString(), "alias": list(b.alias),
                          "value": list(b.value), "time_offset_ms": list(b.time_offset_ms), "status": list(b.status)}}  # fmt: skip
    result: dict[str, Any] = to_dict(request)
    return result


def _ack_problem(response: Any) -> Exception | None:
    if isinstance(response, pb.ReportObservationsResponse) and response.ack.status not in ACCEPTED:
        name = pb.AckStatus.Name(response.ack.status)
        why = "; ".join(f"{v.clause_id} {v.message_en}" for v in response.ack.violations)[:300]
        return RuntimeError(f"ack {name}: {why}")
    return None


def _accepted(response: Any) -> int:
    return int(response.ack.accepted) if isinstance(response, pb.ReportObservationsResponse) else 0
