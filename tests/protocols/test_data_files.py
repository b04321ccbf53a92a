"""The data files of santong.protocols: clause catalogue, data dictionary, coding rules (and their schemas).

Each file is validated against its JSON Schema (draft 2020-12) and then against the rules a schema cannot
express (uniqueness, ordering, cross references). The same check functions are fed deliberately broken
copies to prove that they bite.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).parents[2]
DATA = ROOT / "protocols" / "data"
PROTO_DIR = ROOT / "protocols" / "proto" / "santong" / "protocols" / "v1"
NAMES = ("clauses", "dictionary", "coding_rules")
SCHEMA_BASE = "https://santong.dev/schemas/data/"
CLAUSE_ID = re.compile(r"^ST-(DATA|IFACE|PROTO)-[0-9]{3}$")
NON_MESSAGE_TARGETS = {"mtfile", "device", "platform", "http", "grpc"}
FILE_TYPES = {"CDDY", "CDSS", "YCBJ", "TJSJ", "FZDY", "FZSS", "RYSS", "RYQY", "RYJZ", "JZSS"}

# The clause IDs, levels and checkers the code cites: order, numbering, level and checker are frozen.
FROZEN = """
ST-DATA-001 MUST core
ST-DATA-002 MUST core
ST-DATA-003 MUST core
ST-DATA-004 MUST core
ST-DATA-005 MUST core
ST-DATA-006 MUST core
ST-DATA-007 MUST core
ST-DATA-008 SHOULD core
ST-DATA-009 MUST core
ST-DATA-010 MUST core
ST-DATA-011 MUST core
ST-DATA-012 MUST core
ST-DATA-013 MUST core
ST-DATA-014 MUST core
ST-DATA-015 SHOULD core
ST-DATA-016 MUST core
ST-DATA-017 MUST core
ST-DATA-018 MUST core
ST-DATA-019 MUST core
ST-DATA-020 MUST core
ST-DATA-021 SHOULD core
ST-DATA-022 MUST core
ST-DATA-023 MUST core
ST-DATA-024 MUST core
ST-DATA-025 MUST core
ST-DATA-026 MUST core
ST-DATA-027 MUST core
ST-DATA-028 MUST core
ST-DATA-029 SHOULD core
ST-DATA-030 MUST core
ST-DATA-031 MUST core
ST-DATA-032 SHOULD core
ST-DATA-033 MUST core
ST-DATA-034 MUST core
ST-DATA-035 MUST core
ST-DATA-036 MUST core
ST-DATA-037 SHOULD core
ST-DATA-040 MUST core
ST-DATA-041 MUST core
ST-DATA-042 MUST core
ST-DATA-043 MUST core
ST-DATA-044 MUST core
ST-DATA-045 MUST core
ST-DATA-046 MUST core
ST-DATA-047 MUST core
ST-DATA-048 MUST core
ST-IFACE-001 MUST platform
ST-IFACE-002 MUST platform
ST-IFACE-003 MUST platform
ST-IFACE-004 MUST core
ST-IFACE-005 MUST core
ST-IFACE-006 MUST platform
ST-IFACE-007 MUST platform
ST-IFACE-008 MUST platform
ST-IFACE-009 MUST platform
ST-IFACE-010 MUST core
ST-IFACE-011 MUST product
ST-IFACE-012 SHOULD product
ST-IFACE-013 MAY product
ST-IFACE-014 MUST product
ST-IFACE-015 MUST platform
ST-IFACE-016 MUST core
ST-IFACE-017 MUST platform
ST-IFACE-018 MUST core
ST-IFACE-019 MUST platform
ST-IFACE-020 MUST core
ST-PROTO-001 MUST platform
ST-PROTO-002 MUST platform
ST-PROTO-003 SHOULD platform
ST-PROTO-004 MUST platform
ST-PROTO-005 MUST product
ST-PROTO-006 MUST platform
ST-PROTO-007 MUST product
ST-PROTO-008 MUST core
ST-PROTO-009 MUST platform
ST-PROTO-010 MUST platform
ST-PROTO-011 MUST core
ST-PROTO-012 MUST platform
ST-PROTO-013 MUST platform
ST-PROTO-014 MUST product
ST-PROTO-015 MUST product
ST-PROTO-016 MUST product
ST-PROTO-017 MUST product
ST-PROTO-018 MUST product
ST-PROTO-019 MUST product
ST-PROTO-020 MUST product
ST-PROTO-021 MUST product
ST-PROTO-022 SHOULD product
ST-PROTO-023 MUST product
ST-PROTO-024 MUST product
ST-PROTO-025 SHOULD product
ST-PROTO-026 MUST platform
ST-PROTO-027 MUST product
ST-PROTO-028 SHOULD platform
ST-PROTO-029 MUST product
ST-PROTO-030 MUST product
ST-PROTO-031 MUST platform
ST-PROTO-032 MUST core
ST-PROTO-033 MUST platform
ST-PROTO-034 MUST platform
ST-PROTO-035 MUST platform
ST-PROTO-036 MUST product
ST-PROTO-037 MUST core platform
ST-PROTO-038 MUST platform
"""

# DOMAIN.md's starting dictionary: these codes must stay, with these value kinds.
STARTING_DICTIONARY = {
    **{f"A{n:03d}": "ANALOG" for n in range(1, 23) if n != 11},
    "A011": "SWITCH",
    **{f"S{n:03d}": "SWITCH" for n in range(1, 5)},
    "C001": "ACCUMULATOR",
}

HIGH_ORDER = (
    ("alarm_high_clear", "alarm_high"),
    ("alarm_high", "power_off_high"),
    ("power_restore_high", "power_off_high"),
)
LOW_ORDER = (
    ("alarm_low", "alarm_low_clear"),
    ("power_off_low", "alarm_low"),
    ("power_off_low", "power_restore_low"),
)


# ------------------------------------------------------------------------------------------------ loading


def load_yaml(name: str) -> Any:
    return yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.schema.json").read_text(encoding="utf-8"))


def schema_errors(name: str, document: Any) -> list[str]:
    validator = Draft202012Validator(load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Any]:
    return load_yaml("clauses")


@pytest.fixture(scope="module")
def dictionary() -> dict[str, Any]:
    return load_yaml("dictionary")


@pytest.fixture(scope="module")
def coding() -> dict[str, Any]:
    return load_yaml("coding_rules")


@pytest.fixture(scope="module")
def proto_messages() -> set[str]:
    names: set[str] = set()
    for proto in PROTO_DIR.glob("*.proto"):
        names |= set(re.findall(r"^\s*message\s+(\w+)", proto.read_text(encoding="utf-8"), re.MULTILINE))
    assert names, "no proto messages found"
    return names


# ------------------------------------------------------------------------------------------------ checks
# Rules a JSON Schema cannot express. Each returns a list of problems (empty when the document is sound).


def clause_problems(cat: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, c in enumerate(cat["clauses"]):
        cid = c.get("id", f"#{i}")
        if not CLAUSE_ID.match(str(cid)):
            problems.append(f"{cid}: bad clause ID")
        if cid in seen:
            problems.append(f"{cid}: duplicate clause ID")
        seen.add(cid)
        for key in ("title_zh", "title_en", "text_zh", "text_en", "fix_zh", "fix_en"):
            if not str(c.get(key) or "").strip():
                problems.append(f"{cid}: empty {key}")
        if not re.search(r"[\u4e00-\u9fff]", str(c.get("text_zh") or "")):
            problems.append(f"{cid}: text_zh has no Chinese")
    # Cross references inside texts point at existing clauses.
    for c in cat["clauses"]:
        for ref in re.findall(r"ST-(?:DATA|IFACE|PROTO)-[0-9]{3}", c["text_zh"] + c["text_en"]):
            if ref not in seen:
                problems.append(f"{c['id']}: refers to unknown clause {ref}")
    return problems


def dictionary_problems(dic: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    codes = [e["code"] for e in dic["sensor_types"]]
    for code in {c for c in codes if codes.count(c) > 1}:
        problems.append(f"{code}: duplicate code")
    legacy_seen: dict[str, str] = {}
    for e in dic["sensor_types"]:
        code = e["code"]
        low, high = e["range"]
        if not low < high:
            problems.append(f"{code}: range low {low} not below high {high}")
        p_low, p_high = e.get("physical") or (None, None)
        if (p_low is not None and p_low > low) or (p_high is not None and p_high < high):
            problems.append(
                f"{code}: physical limits {[p_low, p_high]} do not enclose the range [{low}, {high}]"
            )
        th = e.get("thresholds") or {}
        for key, value in th.items():
            if not low <= value <= high:
                problems.append(f"{code}: threshold {key}={value} outside [{low}, {high}]")
        for a, b in HIGH_ORDER + LOW_ORDER:
            if a in th and b in th and not th[a] <= th[b]:
                problems.append(f"{code}: threshold {a}={th[a]} above {b}={th[b]}")
        for key, maximum in (e.get("regulation") or {}).items():
            if key in th and th[key] > maximum:
                problems.append(f"{code}: default {key}={th[key]} laxer than regulation {maximum}")
        if e["value_kind"] == "SWITCH" and (
            not e.get("on_description") or not e.get("off_description") or list(e["range"]) != [0, 1]
        ):
            problems.append(f"{code}: switch type needs on/off descriptions and range [0, 1]")
        for value in (e.get("legacy") or {}).values():
            if value is None:
                continue
            if value in codes:
                problems.append(f"{code}: legacy code {value} collides with a dictionary code")
            if value in legacy_seen:
                problems.append(f"{code}: legacy code {value} already maps to {legacy_seen[value]}")
            legacy_seen[value] = code
    return problems


def coding_problems(rules: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for kind, rule in rules["codes"].items():
        try:
            pattern = re.compile(rule["pattern"])
        except re.error as exc:
            problems.append(f"{kind}: pattern does not compile: {exc}")
            continue
        example, bad = rule["example"], rule["bad_example"]
        if not pattern.search(example):
            problems.append(f"{kind}: example {example!r} does not match")
        if pattern.search(bad):
            problems.append(f"{kind}: bad_example {bad!r} matches")
        if "length" in rule and len(example) != rule["length"]:
            problems.append(f"{kind}: example length {len(example)} != {rule['length']}")
        if "min_length" in rule and not rule["min_length"] <= len(example) <= rule["max_length"]:
            problems.append(f"{kind}: example length {len(example)} outside min/max")
        if pattern.search(example + " !") or pattern.search("! " + example):
            problems.append(f"{kind}: pattern is not anchored")
    return problems


# ------------------------------------------------------------------------------------------------ schemas


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{SCHEMA_BASE}{name}.schema.json"
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("name", NAMES)
def test_data_file_matches_its_schema(name: str) -> None:
    assert schema_errors(name, load_yaml(name)) == []


# ------------------------------------------------------------------------------------------------ clauses


def test_clauses_sound(catalogue: dict[str, Any]) -> None:
    assert clause_problems(catalogue) == []


def test_clause_count_and_pillars(catalogue: dict[str, Any]) -> None:
    ids = [c["id"] for c in catalogue["clauses"]]
    assert len(ids) >= 60
    pillars = {i.split("-")[1] for i in ids}
    assert pillars == {"DATA", "IFACE", "PROTO"}
    levels = {c["level"] for c in catalogue["clauses"]}
    assert {"MUST", "SHOULD", "MAY"} <= levels
    for pillar in pillars:  # every pillar has at least one MUST clause
        assert any(c["level"] == "MUST" for c in catalogue["clauses"] if f"-{pillar}-" in c["id"])


def test_clause_ids_levels_and_checkers_frozen(catalogue: dict[str, Any]) -> None:
    expected = [line.split() for line in FROZEN.strip().splitlines()]
    actual = [[c["id"], c["level"], *c["checked_by"]] for c in catalogue["clauses"]]
    assert actual == expected


def test_clause_texts_bilingual(catalogue: dict[str, Any]) -> None:
    for c in [catalogue, *catalogue["clauses"]]:
        for key in ("intro", "text", "title", "fix"):
            if f"{key}_zh" in c:
                assert c[f"{key}_zh"].strip() and c[f"{key}_en"].strip(), c.get("id", "intro")
    assert catalogue["spec_version"] == "1.0"


def test_clause_targets_exist(catalogue: dict[str, Any], proto_messages: set[str]) -> None:
    unknown = {
        (c["id"], t)
        for c in catalogue["clauses"]
        for t in c["applies_to"]
        if t not in NON_MESSAGE_TARGETS and t not in proto_messages
    }
    assert not unknown


def test_spec_renders_every_clause(catalogue: dict[str, Any]) -> None:
    spec = importlib.util.spec_from_file_location("santong_generate", ROOT / "scripts" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.render_spec(catalogue)
    for c in catalogue["clauses"]:
        assert f"### {c['id']} " in text


def test_clause_since_loaded_and_only_where_the_subject_is_newer(catalogue: dict[str, Any]) -> None:
    """``since``: the interface version a clause's subject exists from. ST-PROTO-036 (TEST_EVENT) came with the
    version that added Command.test_event (versions.json, from the baselines); clauses whose subject 1.0 has
    are unmarked — ST-PROTO-037 rules on 1.0 devices (epoch 0) too, and ST-PROTO-038 binds every device a
    mine admits on a certificate, whatever version it speaks (one that cannot report a digest is not accepted)."""
    from santong.protocols import clauses  # noqa: PLC0415
    from santong.protocols._versions import introduced_in  # noqa: PLC0415

    marked = {c["id"]: c["since"] for c in catalogue["clauses"] if "since" in c}
    assert (
        marked
        == {"ST-PROTO-036": introduced_in("santong.protocols.v1.Command", 8)}
        == {"ST-PROTO-036": "1.1"}
    )
    loaded = clauses()
    assert loaded["ST-PROTO-036"].since == "1.1"
    assert loaded["ST-PROTO-037"].since == loaded["ST-PROTO-038"].since == loaded["ST-DATA-001"].since == ""
    text = render_spec_text(catalogue)
    block = text[text.index("### ST-PROTO-036 ") : text.index("### ST-PROTO-037 ")]
    assert "Since interface version: 1.1" in block and "Since interface version" not in text.replace(
        block, ""
    )


@pytest.mark.parametrize("since", ["0.9", "2.0", "1.1.0", "", "v1.1"])
def test_clause_since_that_is_no_interface_version_refused(catalogue: dict[str, Any], since: str) -> None:
    """The loader refuses a ``since`` that is no version of versions.json (bilingual, naming the clause); the schema
    refuses one that is not MAJOR.MINOR."""
    from santong.protocols import interface_versions  # noqa: PLC0415
    from santong.protocols._catalogue import build_clauses  # noqa: PLC0415

    broken = copy.deepcopy(catalogue)
    broken["clauses"][5]["since"] = since
    cid = broken["clauses"][5]["id"]
    if since == "":
        assert schema_errors("clauses", broken)  # empty: the key is absent, not blank
        return
    with pytest.raises(ValueError, match=f"条款 {cid}.*clause {cid}: since '{re.escape(since)}'"):
        build_clauses(broken, list(interface_versions()))
    assert bool(schema_errors("clauses", broken)) == (not re.fullmatch(r"[0-9]+\.[0-9]+", since))
    broken["clauses"][5]["since"] = "1.1"
    assert build_clauses(broken, list(interface_versions()))[cid].since == "1.1"
    assert schema_errors("clauses", broken) == []


def render_spec_text(catalogue: dict[str, Any]) -> str:
    spec = importlib.util.spec_from_file_location("santong_generate", ROOT / "scripts" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.render_spec(catalogue))


# ------------------------------------------------------------------------------------------------ dictionary


def test_dictionary_sound(dictionary: dict[str, Any]) -> None:
    assert dictionary_problems(dictionary) == []


def test_dictionary_covers_starting_dictionary(dictionary: dict[str, Any]) -> None:
    kinds = {e["code"]: e["value_kind"] for e in dictionary["sensor_types"]}
    for code, kind in STARTING_DICTIONARY.items():
        assert kinds.get(code) == kind, code
    assert len(kinds) >= len(STARTING_DICTIONARY) + 10


def test_dictionary_key_entries(dictionary: dict[str, Any]) -> None:
    by_code = {e["code"]: e for e in dictionary["sensor_types"]}
    methane = by_code["A001"]
    assert methane["unit"] == "%CH4" and methane["range"] == [0, 4]
    assert methane["regulation"] == {"alarm_high": 1.0, "power_off_high": 1.5, "power_restore_high": 1.0}
    assert methane["legacy"]["db14"] == "M0101"
    assert by_code["A003"]["thresholds"]["alarm_high"] == 24
    assert by_code["A006"]["thresholds"]["alarm_high"] == 6.6
    assert by_code["A011"]["on_description"] == "有烟雾" and by_code["A011"]["off_description"] == "无烟雾"
    legacy_mtt = {e["legacy"]["mtt"]: e["code"] for e in dictionary["sensor_types"] if e["legacy"]["mtt"]}
    assert {"1101", "1201", "1301", "1302", "1401"} <= set(legacy_mtt)


# ------------------------------------------------------------------------------------------------ coding rules


def test_coding_rules_sound(coding: dict[str, Any]) -> None:
    assert coding_problems(coding) == []


def test_coding_rules_cite_core_clauses(coding: dict[str, Any], catalogue: dict[str, Any]) -> None:
    by_id = {c["id"]: c for c in catalogue["clauses"]}
    for kind, rule in coding["codes"].items():
        assert rule["clause"] in by_id, kind
        assert "core" in by_id[rule["clause"]]["checked_by"], kind


def test_coding_examples_compose(coding: dict[str, Any], dictionary: dict[str, Any]) -> None:
    codes = {k: re.compile(r["pattern"]) for k, r in coding["codes"].items()}
    ex = {k: r["example"] for k, r in coding["codes"].items()}
    sensor_codes = {e["code"] for e in dictionary["sensor_types"]}
    point = codes["point"].fullmatch(ex["point"])
    assert point
    assert point["mine"] == ex["mine"] and codes["mine"].fullmatch(point["mine"])
    assert point["system"] in coding["systems"]
    assert point["kind"] in coding["value_kinds"]
    assert point["sensor"] in sensor_codes
    station = codes["station"].fullmatch(ex["station"])
    assert station and codes["area"].fullmatch(station["area"]) and station["mine"] == ex["mine"]
    for kind in ("outstation", "card", "area"):
        m = codes[kind].fullmatch(ex[kind])
        assert m and m["mine"] == ex["mine"], kind
    assert ex["system"] in coding["systems"]
    assert coding["systems"]["01"]["name_zh"] == "安全监控"
    name = codes["file_name"].fullmatch(ex["file_name"])
    assert name and name["mine"] == ex["mine"] and name["type"] in coding["file_types"]


def test_coding_value_kinds_and_file_types(coding: dict[str, Any], proto_messages: set[str]) -> None:
    assert coding["value_kinds"] == {"MN": "ANALOG", "KG": "SWITCH", "LJ": "ACCUMULATOR"}
    assert set(coding["file_types"]) == FILE_TYPES
    assert {t["message"] for t in coding["file_types"].values()} <= proto_messages


@pytest.mark.parametrize(
    ("kind", "value", "ok"),
    [
        ("mine", "140421000001", True),
        ("mine", "650100000123", True),
        ("mine", "100421000001", False),  # province 10 does not exist
        ("mine", "14042100000", False),  # 11 digits
        ("point", "14042100000101KGS0011", True),
        ("point", "14042100000101LJC001abcdefgh", True),
        ("point", "14042100000101MNA001abcdefghi", False),  # own code of 9
        ("point", "14042100000101mnA0010A01", False),  # lower-case value kind
        ("card", "140421000001001250", False),  # 18 digits
        ("area", "1404210000010003", True),
        ("station", "1404210000010003000012", True),
        ("system", "01", True),
        ("system", "A1", False),
        ("ma_certificate", "MAH230123", True),
        ("ma_certificate", "mah230123", False),
    ],
)
def test_code_patterns(coding: dict[str, Any], kind: str, value: str, ok: bool) -> None:
    assert bool(re.fullmatch(coding["codes"][kind]["pattern"], value)) is ok


# ------------------------------------------------------------------------------------------------ broken copies


def test_broken_clause_id_rejected(catalogue: dict[str, Any]) -> None:
    broken = copy.deepcopy(catalogue)
    broken["clauses"][0]["id"] = "ST-DATA-1"
    assert any("id" in e for e in schema_errors("clauses", broken))
    assert any("bad clause ID" in p for p in clause_problems(broken))


@pytest.mark.parametrize(
    ("key", "value"),
    [("level", "MUSTNT"), ("checked_by", ["lab"]), ("applies_to", []), ("text_zh", ""), ("extra", 1)],
)
def test_broken_clause_fields_rejected(catalogue: dict[str, Any], key: str, value: Any) -> None:
    broken = copy.deepcopy(catalogue)
    broken["clauses"][5][key] = value
    assert schema_errors("clauses", broken)


def test_duplicate_and_dangling_clause_ids_detected(catalogue: dict[str, Any]) -> None:
    broken = copy.deepcopy(catalogue)
    broken["clauses"].append(copy.deepcopy(broken["clauses"][0]))
    broken["clauses"][1]["text_en"] += " See ST-PROTO-999."
    problems = clause_problems(broken)
    assert any("duplicate" in p for p in problems)
    assert any("ST-PROTO-999" in p for p in problems)


def test_broken_dictionary_range_detected(dictionary: dict[str, Any]) -> None:
    broken = copy.deepcopy(dictionary)
    entry = broken["sensor_types"][0]
    entry["range"] = [4, 0]
    assert schema_errors("dictionary", broken) == []  # the schema cannot compare; the check must
    problems = dictionary_problems(broken)
    assert any("range low" in p for p in problems)
    assert any("outside" in p for p in problems)


def test_broken_dictionary_physical_limits_detected(dictionary: dict[str, Any]) -> None:
    broken = copy.deepcopy(dictionary)
    entry = next(e for e in broken["sensor_types"] if e["code"] == "A001")
    assert entry["physical"] == [0, 100]  # methane: a concentration, never negative nor above 100 %
    entry["physical"] = [0, 2]  # narrower than the range [0, 4]
    assert schema_errors("dictionary", broken) == []
    assert any("do not enclose" in p for p in dictionary_problems(broken))
    entry["physical"] = [0]
    assert schema_errors("dictionary", broken) != []


def test_broken_dictionary_thresholds_detected(dictionary: dict[str, Any]) -> None:
    broken = copy.deepcopy(dictionary)
    th = broken["sensor_types"][0]["thresholds"]
    th["alarm_high_clear"], th["power_off_high"] = 1.2, 0.8
    problems = dictionary_problems(broken)
    assert any("alarm_high_clear" in p for p in problems)
    assert any("power_off_high" in p for p in problems)
    assert any("laxer" in p for p in dictionary_problems(_with_laxer_methane(dictionary)))


def _with_laxer_methane(dictionary: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(dictionary)
    broken["sensor_types"][0]["thresholds"]["power_off_high"] = 2.0
    return broken


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(code="a01"),
        lambda e: e.update(value_kind="DIGITAL"),
        lambda e: e.update(product_classes=["COAL"]),
        lambda e: e.update(range=[0]),
        lambda e: e["thresholds"].update(alarm_hihg=1.0),
        lambda e: e.update(value_kind="SWITCH"),  # a switch needs [0, 1], empty unit and descriptions
    ],
)
def test_broken_dictionary_entry_rejected_by_schema(dictionary: dict[str, Any], mutate: Any) -> None:
    broken = copy.deepcopy(dictionary)
    mutate(broken["sensor_types"][0])
    assert schema_errors("dictionary", broken)


def test_duplicate_dictionary_code_detected(dictionary: dict[str, Any]) -> None:
    broken = copy.deepcopy(dictionary)
    broken["sensor_types"].append(copy.deepcopy(broken["sensor_types"][2]))
    assert any("duplicate code" in p for p in dictionary_problems(broken))


def test_broken_coding_rules_detected(coding: dict[str, Any]) -> None:
    broken = copy.deepcopy(coding)
    broken["codes"]["mine"]["bad_example"] = broken["codes"]["mine"]["example"]
    broken["codes"]["area"]["pattern"] = "^(?P<mine>[0-9]{12}[0-9]{4}$"
    broken["codes"]["card"]["pattern"] = "(?P<mine>[0-9]{12})[0-9]{5}"  # no ^ … $
    problems = coding_problems(broken)
    assert any(p.startswith("mine: bad_example") for p in problems)
    assert any(p.startswith("area: pattern does not compile") for p in problems)
    assert any(p.startswith("card: pattern is not anchored") for p in problems)
    del broken["codes"]["card"]["bad_example"]
    broken["codes"]["point"]["clause"] = "ST-CODE-002"
    errors = schema_errors("coding_rules", broken)
    assert any("bad_example" in e for e in errors)
    assert any("clause" in e for e in errors)
