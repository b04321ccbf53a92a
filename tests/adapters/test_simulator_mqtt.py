"""The MQTT device simulator against a real mosquitto (a subprocess on a free port), read by a paho subscriber."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from santong.adapters.simulators import load_profile
from santong.adapters.simulators._engine import ALARM, POWER_OFF
from santong.adapters.simulators.mqtt import GARBAGE_VARIANTS, MosquittoBroker, MqttSimulator
from st_waiting import DEADLINE_S

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt 未安装 / paho-mqtt is not installed")

PROFILE = load_profile("kj-substation")
TOPIC = PROFILE.topic

# A mark, not a module-level skip: under CI the skip becomes a failure of each test (tests/conftest.py), not a
# collection error that stops the whole run.
pytestmark = pytest.mark.skipif(
    MosquittoBroker.find_binary() is None,
    reason="没有 mosquitto（运行 scripts/mosquitto.sh install）/ mosquitto is missing: run scripts/mosquitto.sh install",
)


# ``broker`` (a throwaway mosquitto for the module) is the shared fixture of tests/adapters/conftest.py.


class Subscriber:
    """A paho subscriber on ``topic`` that records (arrival time, payload bytes) and reconnects by itself."""

    def __init__(self, port: int, topic: str = "kjsim/#") -> None:
        self.messages: list[tuple[float, bytes]] = []
        self.connected = threading.Event()
        self.connects = 0
        self.lock = threading.Lock()
        c = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{time.monotonic_ns()}"
        )
        c.reconnect_delay_set(0.1, 0.5)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_disconnect = lambda *a: self.connected.clear()
        c.on_message = self._on_message
        self.topic = topic
        c.connect("127.0.0.1", port, keepalive=10)
        c.loop_start()
        self.client = c
        assert self.connected.wait(DEADLINE_S)

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        client.subscribe(self.topic, qos=1)
        self.connects += 1

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: Any, reasons: Any, properties: Any = None
    ) -> None:
        self.connected.set()  # subscribed (SUBACK in): what a test publishes from now on arrives

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), msg.payload))

    def payloads(self) -> list[bytes]:
        with self.lock:
            return [p for _, p in self.messages]

    def json(self) -> list[dict[str, Any]]:
        out = []
        for p in self.payloads():
            try:
                doc = json.loads(p)
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(doc, dict) and "data" in doc:
                out.append(doc)
        return out

    def wait(self, predicate: Any, timeout: float = DEADLINE_S) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber(broker: MosquittoBroker) -> Iterator[Subscriber]:
    assert broker.port is not None
    s = Subscriber(broker.port)
    yield s
    s.close()


async def _until(predicate: Any, timeout: float = DEADLINE_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_payloads_follow_the_profile(broker: MosquittoBroker, subscriber: Subscriber) -> None:
    sim = MqttSimulator(PROFILE, broker=broker, period=0.05)
    await sim.start()
    try:
        assert await _until(lambda: len(subscriber.json()) >= 5)
    finally:
        await sim.stop()
    docs = subscriber.json()
    now_ms = time.time() * 1000
    seqs = [d["seq"] for d in docs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for d in docs:
        assert d["dev"] == "KJ-FZ-001" and abs(d["ts"] - now_ms) < 30_000
        assert set(d["data"]) == {p.name for p in PROFILE.points}
        for p in PROFILE.points:
            entry = d["data"][p.name]
            assert entry["q"] == 0 and entry["s"] == 0
            if p.is_switch:
                assert entry["v"] in (0, 1) and isinstance(entry["v"], int)
        assert 0.2 <= d["data"]["CH4_T1"]["v"] <= 0.45
        assert 20.5 <= d["data"]["O2_01"]["v"] <= 20.9
        assert d["data"]["FEED_01"]["v"] == 1 and d["data"]["SMOKE_01"]["v"] == 0


async def test_methane_scenario_in_the_payloads(broker: MosquittoBroker, subscriber: Subscriber) -> None:
    sim = MqttSimulator(PROFILE, broker=broker, period=0.04, speed=20)
    await sim.start()
    try:
        sim.engine.start_scenario("methane_rise")
        assert await _until(lambda: not sim.engine.running_scenarios)

        def cleared() -> bool:  # the scenario's end has reached the subscriber
            docs = subscriber.json()
            if not docs:
                return False
            last = docs[-1]["data"]
            return last["CH4_T1"]["s"] == 0 and last["CH4_T1"]["v"] < 1.0 and last["FEED_01"]["v"] == 1

        assert await _until(cleared)
    finally:
        await sim.stop()
    rows = [
        (d["data"]["CH4_T1"]["v"], d["data"]["CH4_T1"]["s"], d["data"]["FEED_01"]["v"])
        for d in subscriber.json()
    ]
    statuses = [s for _, s, _ in rows]
    dedup = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
    assert dedup == [0, ALARM, ALARM | POWER_OFF, 0], dedup
    for v, s, feed in rows:
        if s & POWER_OFF:
            assert v >= 1.0 and feed == 0
        if s & ALARM:
            assert v >= 1.0
    assert max(v for v, _, _ in rows) >= 1.5 and rows[-1][0] < 1.0 and rows[-1][2] == 1


async def test_garbage_payloads_arrive(broker: MosquittoBroker, subscriber: Subscriber) -> None:
    sim = MqttSimulator(PROFILE, broker=broker, period=60)  # no regular readings in the way
    await sim.start()
    try:
        for variant in GARBAGE_VARIANTS:
            reply = await sim.handle({"cmd": "fault", "kind": "garbage", "variant": variant})
            assert reply["ok"], reply
        assert await _until(lambda: len(subscriber.payloads()) >= len(GARBAGE_VARIANTS))
        bad = await sim.handle({"cmd": "fault", "kind": "garbage", "variant": "nope"})
        assert not bad["ok"] and "nope" in bad["error"]
    finally:
        await sim.stop()
    got = dict(zip(GARBAGE_VARIANTS, subscriber.payloads(), strict=True))
    for variant in ("not_json", "truncated", "binary"):
        with pytest.raises((ValueError, UnicodeDecodeError)):
            json.loads(got[variant])
    assert got["empty"] == b""
    assert "data" not in json.loads(got["wrong_shape"])[0]
    values = json.loads(got["bad_value"])["data"]
    assert values["CH4_T0"]["v"] == "abc" and values["X"]["v"] is None and values["Y"]["v"] == float("inf")
    assert len(got["oversize"]) > 64 * 1024
    assert sim.garbage_sent == len(GARBAGE_VARIANTS)


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


async def test_broker_restart_drops_then_accepts_connections() -> None:
    with MosquittoBroker() as own:
        port = own.port
        assert port is not None
        sub = Subscriber(port)
        sim = MqttSimulator(PROFILE, broker=own, period=0.05)
        await sim.start()
        try:
            assert await _until(lambda: len(sub.json()) >= 3)
            down = 3.0  # long enough to be seen gone, whatever the load
            reply = await sim.handle({"cmd": "fault", "kind": "broker_restart", "down": down})
            assert reply["ok"], reply
            assert await _until(lambda: not _port_open(port), down)  # the broker is gone: connections refused
            assert await _until(lambda: not sim.connected.is_set(), down)
            before = len(sub.json())
            assert await _until(lambda: _port_open(port))  # back on the same port
            assert await _until(lambda: sim.connects >= 2 and sub.connects >= 2)
            assert await _until(lambda: len(sub.json()) >= before + 3)  # readings flow again
            assert sim.dropped > 0 and own.restarts == 1
        finally:
            await sim.stop()
            sub.close()
    not_owned = MqttSimulator(PROFILE, broker_port=1)
    reply = await not_owned.handle({"cmd": "fault", "kind": "broker_restart"})
    assert not reply["ok"] and "not owned" in reply["error"]


def test_cli_publishes_to_an_existing_broker(broker: MosquittoBroker, subscriber: Subscriber) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "santong",
            "simulate",
            "mqtt",
            "--broker",
            f"127.0.0.1:{broker.port}",
            "--period",
            "100ms",
            "--duration",
            "1.5s",
            "--speed",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.splitlines()[0])
    assert info["topic"] == TOPIC and info["broker_port"] == broker.port and info["owns_broker"] is False
    assert subscriber.wait(lambda: len(subscriber.json()) >= 5, 5)


def test_mosquitto_script_starts_restarts_and_stops_a_broker(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "mosquitto.sh"
    work = tmp_path / "broker"

    def sh(*args: str) -> str:
        proc = subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "max_queued_messages 100000" in sh("conf", "1883")
    info = json.loads(sh("start", str(work)))
    port = info["port"]
    try:
        assert _port_open(port)
        conf = (work / "mosquitto.conf").read_text()
        assert f"listener {port} 127.0.0.1" in conf and "allow_anonymous true" in conf
        assert "persistence false" in conf
        again = json.loads(sh("restart", str(work), "0.2"))
        assert again["port"] == port and again["pid"] != info["pid"] and _port_open(port)
    finally:
        sh("stop", str(work))
    assert not _port_open(port)
