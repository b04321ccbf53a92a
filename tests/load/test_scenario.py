"""Load scenarios: a good file loads; every schema rule and every check has a bad input whose error names
file:line, the key and the fix. Also: the load tool's modules never import Locust or gevent (only the Locust
processes do), and what a device sends passes the validation core."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from santong.conformance._documents import ConfigError

from santong.load._devices import DeviceModel
from santong.load._scenario import SCHEMA, load_credentials, load_scenario

GOOD = """\
version: 1
name: small
mines: 2
devices_per_mine: 3
points_per_device: 20
interval_s: 1
profile: kj-substation
ramp_up_s: 2
duration_s: 10
device_prefix: T
target:
  transport: grpc
  url: 127.0.0.1:50051
  mock:
    inspection_url: http://127.0.0.1:8080
    inspection_token: tok
pass:
  ack_p50_ms: 200
  ack_p99_ms: 1000
  max_error_rate: 0
"""


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _bad(tmp_path: Path, old: str, new: str) -> ConfigError:
    assert old in GOOD, old
    with pytest.raises(ConfigError) as e:
        load_scenario(_write(tmp_path, GOOD.replace(old, new, 1)))
    return e.value


def test_good_scenario_loads_with_defaults(tmp_path: Path) -> None:
    sc = load_scenario(_write(tmp_path, GOOD))
    assert (sc.devices, sc.points_per_device, sc.transport) == (6, 20, "grpc")
    assert sc.offered_points_per_s == 120
    assert sc.store_matches_acks is True  # the default against the mock
    assert sc.device_id(4) == "T-000002-002" and sc.mine_code(4) == "140421000002"
    assert sc.spawn_rate == 3.0


# (what to change, replacement, key path in the message, a word of the fix, line of the problem)
SCHEMA_CASES = [
    ("version: 1", "version: 2", "$.version", "must be 1", 1),
    ("mines: 2", "mines: 0", "$.mines", "out of range", 3),
    ("mines: 2", "mines: two", "$.mines", "wrong type", 3),
    ("devices_per_mine: 3", "devices_per_mine: 1000", "$.devices_per_mine", "out of range", 4),
    ("points_per_device: 20", "points_per_device: 0", "$.points_per_device", "out of range", 5),
    ("interval_s: 1", "interval_s: 0.01", "$.interval_s", "out of range", 6),
    ("profile: kj-substation", "profile: ''", "$.profile", "must not be empty", 7),
    ("ramp_up_s: 2", "ramp_up_s: -1", "$.ramp_up_s", "out of range", 8),
    ("duration_s: 10", "duration_s: 0", "$.duration_s", "out of range", 9),
    ("device_prefix: T", "device_prefix: 9x", "$.device_prefix", "malformed", 10),
    ("device_prefix: T", "device_prefix: T\nprovince_code: '14'", "$.province_code", "malformed", 11),
    ("name: small", "name: ''", "$.name", "must not be empty", 2),
    ("name: small", "nmae: small", "$.nmae", "unknown key nmae", 2),
    ("duration_s: 10\n", "", "$", "required key duration_s", 1),
    ("  transport: grpc", "  transport: mqtt", "$.target.transport", "choose one of: grpc, http", 12),
    ("  url: 127.0.0.1:50051", "  url: 'not a url'", "$.target.url", "grpc://host:port", 13),
    ("  url: 127.0.0.1:50051", "  url: 127.0.0.1:50051\n  tls: yes please", "$.target.tls", "wrong type", 14),
    ("  url: 127.0.0.1:50051", "  url: 127.0.0.1:50051\n  timeout_s: 0", "$.target.timeout_s", "out of range", 14),
    ("  url: 127.0.0.1:50051", "  url: 127.0.0.1:50051\n  ca_file: ''", "$.target.ca_file", "must not be empty", 14),
    ("  url: 127.0.0.1:50051", "  url: 127.0.0.1:50051\n  colour: red", "$.target.colour", "unknown key", 14),
    ("  transport: grpc\n", "", "$.target", "required key transport", 12),
    ("  url: 127.0.0.1:50051", "  url: 127.0.0.1:50051\n  credentials_file: c.yaml", "$.target",
     "exactly one source of credentials", 12),
    ("  mock:\n    inspection_url: http://127.0.0.1:8080\n    inspection_token: tok\n", "", "$.target",
     "exactly one source of credentials", 12),
    ("    inspection_url: http://127.0.0.1:8080", "    inspection_url: ftp://x", "$.target.mock.inspection_url",
     "malformed", 15),
    ("    inspection_token: tok", "    inspection_token: ''", "$.target.mock.inspection_token", "must not be empty", 16),
    ("    inspection_token: tok", "    inspection_token: tok\n    extra: 1", "$.target.mock.extra", "unknown key", 17),
    ("  ack_p50_ms: 200", "  ack_p50_ms: 0", "$.pass.ack_p50_ms", "out of range", 18),
    ("  ack_p99_ms: 1000", "  ack_p99_ms: fast", "$.pass.ack_p99_ms", "wrong type", 19),
    ("  max_error_rate: 0", "  max_error_rate: 2", "$.pass.max_error_rate", "out of range", 20),
    ("  max_error_rate: 0", "  max_error_rate: 0\n  store_matches_acks: 1", "$.pass.store_matches_acks", "wrong type", 21),
    ("  max_error_rate: 0", "  max_error_rate: 0\n  p95: 3", "$.pass.p95", "unknown key", 21),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "path", "fix", "line"), SCHEMA_CASES, ids=[c[2] + ":" + c[1][:24] for c in SCHEMA_CASES]
)
def test_each_schema_rule_has_a_bad_input(
    tmp_path: Path, old: str, new: str, path: str, fix: str, line: int
) -> None:
    err = _bad(tmp_path, old, new)
    text = str(err)
    assert f"s.yaml:{line}: {path}:" in text, text
    assert fix in text, text
    assert " / " in text  # Chinese first, English alongside


def test_every_schema_keyword_is_exercised() -> None:
    """Each property of the schema (and nested object) appears in a bad-input case above."""
    tested = {c[2] for c in SCHEMA_CASES}

    def props(schema: dict, prefix: str) -> set[str]:
        out = set()
        for k, sub in schema.get("properties", {}).items():
            if k == "$schema":
                continue
            out.add(f"{prefix}.{k}")
            out |= props(sub, f"{prefix}.{k}")
        return out

    missing = {p for p in props(SCHEMA, "$") if p not in tested and p not in ("$.target.credentials_file",
                                                                              "$.target.mock", "$.pass")}  # fmt: skip
    # credentials_file (type rule) is checked below; mock and pass are objects whose keys are all tested
    assert not missing, missing


@pytest.mark.parametrize(
    ("old", "new", "path", "fix"),
    [
        ("  transport: grpc", "  transport: http", "$.target.url", "http:// or https://"),
        ("  url: 127.0.0.1:50051", "  url: http://127.0.0.1:8080", "$.target.url", "host:port or grpc://host:port"),
        ("profile: kj-substation", "profile: no-such-profile", "$.profile", "profile cannot be used"),
        ("  url: 127.0.0.1:50051", "  url: 127.0.0.1:50051\n  ca_file: missing.pem", "$.target.ca_file", "does not exist"),
    ],
)  # fmt: skip
def test_checks_beyond_the_schema(tmp_path: Path, old: str, new: str, path: str, fix: str) -> None:
    text = str(_bad(tmp_path, old, new))
    assert f"{path}:" in text and fix in text, text


def test_credentials_file_must_exist_and_store_check_needs_the_mock(tmp_path: Path) -> None:
    mock = "  mock:\n    inspection_url: http://127.0.0.1:8080\n    inspection_token: tok\n"
    text = str(_bad(tmp_path, mock, "  credentials_file: nowhere.yaml\n"))
    assert "$.target.credentials_file:" in text and "does not exist" in text
    (tmp_path / "c.yaml").write_text("token: t\n", encoding="utf-8")
    bad = GOOD.replace(mock, "  credentials_file: c.yaml\n").replace(
        "  max_error_rate: 0", "  max_error_rate: 0\n  store_matches_acks: true"
    )
    with pytest.raises(ConfigError) as e:
        load_scenario(_write(tmp_path, bad))
    assert "$.pass.store_matches_acks" in str(e.value) and "only against the mock" in str(e.value)
    ok = load_scenario(_write(tmp_path, GOOD.replace(mock, "  credentials_file: c.yaml\n")))
    assert ok.store_matches_acks is False and ok.credentials_file == (tmp_path / "c.yaml").resolve()


def test_inspection_token_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD.replace("    inspection_token: tok\n", "")
    monkeypatch.delenv("SANTONG_INSPECTION_TOKEN", raising=False)
    with pytest.raises(ConfigError) as e:
        load_scenario(_write(tmp_path, text))
    assert "SANTONG_INSPECTION_TOKEN" in str(e.value)
    monkeypatch.setenv("SANTONG_INSPECTION_TOKEN", "from-env")
    assert load_scenario(_write(tmp_path, text)).inspection_token == "from-env"


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_scenario(_write(tmp_path, "version: [1\n"))
    assert "not well-formed" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_scenario(_write(tmp_path, "- 1\n"))
    assert "a scenario is a mapping" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_scenario(tmp_path / "absent.yaml")
    assert "not found" in str(e.value)


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("[1]\n", "a credentials file is a mapping"),
        ("tokens: x\n", "a credentials file is a mapping"),
        ("token: ''\n", "token must be a non-empty string"),
        ("devices: [a]\n", "devices must map ID: TOKEN"),
        ("devices: {'bad id!': t}\n", "bad device ID or token"),
        ("devices: {A-1: ''}\n", "bad device ID or token"),
        ("devices: {A-1: t}\n", "no token for 1 device(s), e.g. A-2"),
    ],
)
def test_credentials_file_rules(tmp_path: Path, text: str, fix: str) -> None:
    p = _write(tmp_path, text, "creds.yaml")
    with pytest.raises(ConfigError) as e:
        load_credentials(p, ["A-1", "A-2"])
    assert fix in str(e.value) and "creds.yaml" in str(e.value), str(e.value)


def test_credentials_shared_and_per_device(tmp_path: Path) -> None:
    c = load_credentials(_write(tmp_path, "token: s\ndevices: {A-1: one}\n", "c.yaml"), ["A-1", "A-2"])
    assert (c.token("A-1"), c.token("A-2")) == ("one", "s")


def test_what_a_device_sends_passes_the_validation_core(tmp_path: Path) -> None:
    from santong.adapters.simulators import load_profile
    from santong.adapters.simulators._engine import Simulation
    from santong.protocols import ValidationContext, must_violations, validate
    from santong.protocols.v1 import device_access_pb2 as pb

    sc = load_scenario(_write(tmp_path, GOOD.replace("points_per_device: 20", "points_per_device: 40")))
    profile = load_profile(sc.profile)
    codes = set()
    for index in (0, 5):
        model = DeviceModel(sc, profile, index)
        ctx = ValidationContext()
        for req in (model.register_request(), model.define_points_request()):
            assert not must_violations(validate(req, ctx)), validate(req, ctx)
            ctx.state.apply(req)
        batch = model.batch(Simulation(profile, seed=index), 1)
        vs = validate(pb.ReportObservationsRequest(batch=batch), ctx)
        assert not must_violations(vs), vs
        assert len(batch.alias) == 40
        codes |= {p.point_code for p in model.define_points_request().points}
    assert len(codes) == 80  # distinct across devices and mines


def test_the_load_modules_do_not_import_locust_or_gevent() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        import santong.cli, santong.load, santong.load._cmd, santong.load._scenario, santong.load._devices
        santong.cli.build_parser("load")
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("locust", "gevent"))))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
