"""SPEC.md documents every MT/T file type santong reads, from the field tables the parser reads with."""

from __future__ import annotations

from pathlib import Path

import pytest
from santong.adapters.mtfile import SUPPORTED_TYPES, MtFileError, parse_bytes
from santong.adapters.mtfile._filetypes import KINDS

SPEC = (Path(__file__).resolve().parents[2] / "protocols" / "SPEC.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("code", list(SUPPORTED_TYPES))
def test_each_type_has_its_section_with_every_field_and_a_parsable_example(code: str) -> None:
    t = SUPPORTED_TYPES[code]
    section = SPEC.split(f"### {code} · {t.name_zh} / {t.name_en} → {t.message}\n", 1)[1].split("\n### ", 1)[
        0
    ]
    for i, s in enumerate(t.specs, 1):
        assert f"| {i} | {s.zh} | {s.en} | {'是 yes' if s.required else '否 no'} |" in section
    assert t.example in section
    # the documented example is a valid record of its type
    body = f"140421000001;示例煤矿;2025-01-15 10:30:05~\r\n{t.example}\r\n||".encode()
    parsed = parse_bytes(f"140421000001_{code}_20250115103005.txt", body)
    assert parsed.record_count == 1


def test_the_table_drives_the_parser_every_required_field_is_refused_empty() -> None:
    """A required number, time or code field of any type, left empty, is refused naming that field."""
    for code, t in SUPPORTED_TYPES.items():
        for i, s in enumerate(t.specs):
            if s.kind not in ("number", "time", "key", "status") and s.codes is None:
                continue
            fields = t.example.rstrip("~").split(";")
            fields[i] = ""
            body = f"140421000001;示例煤矿;2025-01-15 10:30:05~\r\n{';'.join(fields)}~\r\n||".encode()
            with pytest.raises(MtFileError) as e:
                parse_bytes(f"140421000001_{code}_20250115103005.txt", body)
            assert e.value.field == s.zh and e.value.clause_id == s.clause, (code, s.zh)
    assert set(KINDS) >= {s.kind for t in SUPPORTED_TYPES.values() for s in t.specs}


def test_every_table_names_real_message_fields_and_a_real_route() -> None:
    """The tables drive the parser, the converter and the placing of findings: each name must exist."""
    from santong.adapters.mtfile import SUPPORTED_TYPES, Observation  # noqa: PLC0415
    from santong.adapters.mtfile._filetypes import HEADER  # noqa: PLC0415
    from santong.protocols.v1 import data_pb2  # noqa: PLC0415
    from santong.protocols.v1 import device_access_pb2 as pb  # noqa: PLC0415

    assert HEADER.protos == ("mine_code", "mine_name", "uploaded_at")
    for t in SUPPORTED_TYPES.values():
        assert len(t.protos) == len(t.specs), t.code
        kept = [p for p in t.protos if p]
        assert len(set(kept)) == len(kept), t.code
        if t.code == "CDSS":
            fields = set(Observation.__slots__)
        else:
            fields = set(getattr(data_pb2, t.message).DESCRIPTOR.fields_by_name)
        assert set(kept) <= fields, (t.code, set(kept) - fields)
        verb, target = t.route.split()
        if verb == "define":
            assert target in {"points", "outstations", "areas", "stations"}
        else:
            assert target in getattr(pb, f"{verb}Request").DESCRIPTOR.fields_by_name, t.code
        for path, name in t.paths.items():
            assert t.source(path) == t.protos.index(name)
