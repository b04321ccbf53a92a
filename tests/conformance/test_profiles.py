"""Profiles: built from clause groups, validated against the catalogue, adjusted per product class."""

from __future__ import annotations

from pathlib import Path

import pytest
from santong.conformance import FEATURES, PRODUCT_CLASSES, ConfigError, load_profiles, profiles
from santong.protocols import clauses


def test_bundled_profiles_resolve_for_every_class() -> None:
    ps = profiles()
    assert set(ps.names) == {"basic", "standard", "full", "mine-acceptance", "platform-regression"}
    known = clauses()
    for cls in PRODUCT_CLASSES:
        for p in ps.all_for(cls):
            assert p.clause_ids, (p.name, cls)
            assert set(p.clause_ids) <= set(known)
            assert set(p.requires_features) <= set(FEATURES)


def test_profiles_grow_basic_standard_full() -> None:
    ps = profiles()
    for cls in ("safety_monitoring", "gas_drainage", "personnel_position"):
        basic, standard, full = (set(ps.resolve(n, cls).clause_ids) for n in ("basic", "standard", "full"))
        assert basic < standard < full


def test_levels_and_checkers() -> None:
    cs = clauses()
    ps = profiles()
    basic = ps.resolve("basic", "safety_monitoring")
    assert {cs[c].level for c in basic.clause_ids} == {"MUST"}
    standard = ps.resolve("standard", "safety_monitoring")
    assert "MAY" not in {cs[c].level for c in standard.clause_ids}
    assert not {
        c for c in standard.clause_ids if "platform" in cs[c].checked_by and "core" not in cs[c].checked_by
    }
    regression = ps.resolve("platform-regression", "platform")
    assert {"ST-PROTO-012", "ST-IFACE-015"} <= set(regression.clause_ids)
    assert regression.subjects == ("platform",)
    assert not {c for c in regression.clause_ids if cs[c].checked_by == ("product",)}


def test_text_file_clauses_only_in_full() -> None:
    ps = profiles()
    assert "ST-DATA-040" in ps.resolve("full", "safety_monitoring").clause_ids
    assert "ST-DATA-040" not in ps.resolve("standard", "safety_monitoring").clause_ids


def test_mine_acceptance_is_short_and_covers_both_sides() -> None:
    p = profiles().resolve("mine-acceptance", "safety_monitoring")
    assert 5 <= len(p.clause_ids) <= 20
    assert set(p.subjects) == {"product", "platform"}


def test_per_class_adjustments_and_aliases() -> None:
    ps = profiles()
    personnel = ps.resolve("标准", "personnel_position")
    monitoring = ps.resolve("standard", "safety_monitoring")
    assert personnel.name == "standard"
    assert "ST-DATA-026" in personnel.clause_ids and "ST-DATA-011" not in personnel.clause_ids
    assert "ST-DATA-026" not in monitoring.clause_ids and "ST-DATA-011" in monitoring.clause_ids
    assert "personnel" in personnel.requires_features
    assert set(monitoring.requires_features) == {"backfill", "alarms"}
    assert ps.resolve("basic", "water_hazard").requires_features == ()


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(KeyError, match="basic, standard, full"):
        profiles().resolve("gold", "safety_monitoring")


def test_a_profiles_file_with_unknown_ids_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "profiles.yaml"
    p.write_text(
        """version: 1
profiles:
  tiny:
    name_zh: 小
    name_en: Tiny
    description_zh: x
    description_en: x
    subjects: [product]
    include: [ST-DATA-001, ST-DATA-998, {level: MUSTT}]
    requires_features: [teleport]
classes:
  safety_monitoring:
    exclude: [ST-PROTO-099]
  spaceship: {}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        load_profiles(p)
    text = "\n".join(str(x) for x in e.value.problems)
    for expected in (
        "$.profiles.tiny.include[1]: 条款 ST-DATA-998",
        "$.profiles.tiny.include[2].level",
        "$.profiles.tiny.requires_features[0]",
        "$.classes.safety_monitoring.exclude[0]",
        "$.classes.spaceship",
    ):
        assert expected in text, text


def test_a_profiles_file_must_follow_its_schema(tmp_path: Path) -> None:
    p = tmp_path / "profiles.yaml"
    p.write_text("version: 1\nprofiles: {Bad Name: {}}\nclasses: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_profiles(p)
