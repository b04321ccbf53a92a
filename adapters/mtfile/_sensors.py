"""The sensor type as MT/T 1201 files write it → the data dictionary's code.

KJ exports name the sensor type in many ways: the dictionary code (``A001``), its Chinese name (``甲烷``), a
colloquial name or abbreviation the dictionary lists as an alias (``瓦斯``, ``CO``, ``低浓甲烷``), a legacy code of the
dictionary's legacy column (``M0101``), or the KJ vendor's own code (``0001``), which only a **site mapping** can
name. :class:`SensorResolver` tries them in that order (the site mapping before the names, so a mine can pin what
its system means), after normalising the text (NFKC, case, blanks, a trailing ``传感器``). A text that fits no entry
exactly is not guessed: the entries whose names contain it (or are contained in it) are offered as candidates, and
the file holder adds the line to the site mapping. The same resolution serves the type segment of point codes.

A site mapping is a YAML file (schema ``protocols/data/site_mapping.schema.json``)::

    version: "1.0"
    sensor_types:
      "0001": A001   # quote codes: YAML reads 0001 unquoted as the number 1
      "开停": S003

It applies to ``santong validate --mapping`` and the mtfile adapter (``settings.mapping``) only; certification never
accepts one (a vendor's product speaks the interface's codes).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml
from santong.protocols import sensor_types
from santong.protocols._catalogue import load_data

__all__ = [
    "Resolution",
    "SensorResolver",
    "SiteMapping",
    "SiteMappingError",
    "load_site_mapping",
    "normalise",
]

_SUFFIX: Final = "传感器"


def normalise(text: str) -> str:
    """The comparison form of a type text: NFKC (full-width → half-width), no blanks, case-folded, no 传感器."""
    t = "".join(unicodedata.normalize("NFKC", text).split()).casefold()
    if t.endswith(_SUFFIX) and len(t) > len(_SUFFIX):
        t = t[: -len(_SUFFIX)]
    return t


class SiteMappingError(ValueError):
    """A site mapping file that cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True, slots=True)
class SiteMapping:
    """A mine's own sensor-type texts (codes or names its KJ system writes) → dictionary codes."""

    sensor_types: Mapping[str, str] = field(default_factory=dict)
    path: str = ""


@cache
def _schema() -> dict[str, Any]:
    text = (
        resources.files("santong.protocols").joinpath("data", "site_mapping.schema.json").read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_site_mapping(path: str | Path) -> SiteMapping:
    """Read and check a site mapping file; SiteMappingError (bilingual, with the fix) when it cannot be used."""
    import jsonschema  # noqa: PLC0415  (only when a mapping is given)

    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise SiteMappingError(
            f"无法读取现场映射文件 {p}：{e.strerror or e} / cannot read the site mapping {p}: {e.strerror or e}"
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise SiteMappingError(
            f"现场映射文件 {p} 不是 UTF-8 YAML：{e} / the site mapping {p} is not UTF-8 YAML: {e}"
        ) from None
    table = doc.get("sensor_types") if isinstance(doc, dict) else None
    if isinstance(table, dict):
        bad = [k for k in table if not isinstance(k, str)]
        if bad:
            raise SiteMappingError(
                f'现场映射文件 {p}：代码 {bad[0]!r} 须加引号（YAML 把 0001 读成数字 1），写成 "0001": A001 / '
                f'site mapping {p}: quote the code {bad[0]!r} (YAML reads 0001 as the number 1): write "0001": A001'
            )
    errors = sorted(jsonschema.Draft202012Validator(_schema()).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(x) for x in first.path) or "(文档 document)"
        raise SiteMappingError(
            f"现场映射文件 {p} 在 {where} 处不符合格式（protocols/data/site_mapping.schema.json）：{first.message} / "
            f"the site mapping {p} breaks its schema at {where}: {first.message}"
        )
    assert isinstance(table, dict)
    unknown = {k: v for k, v in table.items() if v not in _entries()}
    if unknown:
        k, v = next(iter(unknown.items()))
        raise SiteMappingError(
            f"现场映射文件 {p}：{k!r} 映射到的 {v} 不是数据字典代码（见 protocols/data/dictionary.yaml） / site mapping "
            f"{p}: {k!r} maps to {v}, which is not a data-dictionary code (see protocols/data/dictionary.yaml)"
        )
    return SiteMapping(dict(table), str(p))


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a type text was resolved: the dictionary code (None: not resolved), how, and candidates when not."""

    text: str
    code: str | None
    how: str  # "code" | "site" | "name" | "alias" | "legacy" | "ambiguous" | "unknown" | "empty"
    candidates: tuple[str, ...] = ()

    def explain(self) -> tuple[str, str]:
        """Why the text was not resolved, and what to do (Chinese, English)."""
        if self.candidates:
            names = "、".join(f"{c} {_entries()[c].name_zh}" for c in self.candidates)
            names_en = ", ".join(f"{c} {_entries()[c].name_en}" for c in self.candidates)
            return (
                f"传感器类型“{self.text}”不能唯一对应数据字典的条目，可能是：{names}",
                f"sensor type '{self.text}' does not name one data-dictionary entry; it may be: {names_en}",
            )
        return (
            f"传感器类型“{self.text}”不在数据字典中（按代码、中文名称、别名和旧代码都找不到）",
            f"sensor type '{self.text}' is not in the data dictionary (no code, Chinese name, alias or legacy code)",
        )

    def fix(self) -> tuple[str, str]:
        """The fix for whoever holds the file: a site-mapping line."""
        target = self.candidates[0] if self.candidates else "A001"
        return (
            f'在现场映射文件（--mapping site.yaml）的 sensor_types 下加一行 "{self.text}": {target}'
            "（填该测点实际的字典代码），或把 KJ 系统中该测点的传感器类型改为字典中的名称",
            f'add the line "{self.text}": {target} under sensor_types in the site mapping (--mapping site.yaml), '
            "with the dictionary code this point really is, or set the point's sensor type in the KJ system to a "
            "dictionary name",
        )


@cache
def _entries() -> dict[str, Any]:
    """Dictionary entries by code (legacy codes not included)."""
    return {code: st for code, st in sensor_types().items() if st.code == code}


@cache
def dictionary_names() -> dict[str, str]:
    """Normalised code, name_zh, alias and legacy code → dictionary code, from dictionary.yaml."""
    return names_of(load_data("dictionary.yaml")["sensor_types"])


def names_of(entries: list[dict[str, Any]]) -> dict[str, str]:
    """The name table of dictionary entries; ValueError when a text names two entries (each alias names one)."""
    out: dict[str, str] = {}

    def put(text: str, code: str, what: str) -> None:
        key = normalise(text)
        other = out.setdefault(key, code)
        if other != code:
            raise ValueError(
                f"数据字典：{what}“{text}”同时指向 {other} 和 {code}；别名只能指向一个条目 / data dictionary: {what} "
                f"'{text}' names both {other} and {code}; an alias names exactly one entry"
            )

    for e in entries:
        code = e["code"]
        put(code, code, "代码 code")
        put(e["name_zh"], code, "名称 name")
        for alias in e.get("aliases") or ():
            put(alias, code, "别名 alias")
        for legacy in (e.get("legacy") or {}).values():
            if legacy:
                put(str(legacy), code, "旧代码 legacy code")
    return out


class SensorResolver:
    """Type text → dictionary code (see the module docstring); one lookup per distinct text.

    Example::

        r = SensorResolver(load_site_mapping("site.yaml"))
        r.code("瓦斯") == "A001"; r.resolve("开停").candidates == ("S001", "S003")
    """

    def __init__(self, mapping: SiteMapping | None = None) -> None:
        self.mapping = mapping or SiteMapping()
        self._site = {normalise(k): v for k, v in self.mapping.sensor_types.items()}
        self._names = dictionary_names()
        self._cache: dict[str, Resolution] = {}

    @property
    def segments(self) -> dict[str, str]:
        """The site mapping's entries usable as the 4-character type segment of a point code."""
        return {
            k: v for k, v in self.mapping.sensor_types.items() if len(k) == 4 and k.isascii() and k.isalnum()
        }

    def code(self, text: str) -> str | None:
        """The dictionary code of a type text, or None."""
        return self.resolve(text).code

    def resolve(self, text: str) -> Resolution:
        """The resolution of a type text (cached)."""
        found = self._cache.get(text)
        if found is None:
            found = self._cache[text] = self._resolve(text)
        return found

    def _resolve(self, text: str) -> Resolution:
        if not text:
            return Resolution(text, None, "empty")
        entries = _entries()
        if text in entries:
            return Resolution(text, text, "code")
        key = normalise(text)
        site = self._site.get(key)
        if site is not None:
            return Resolution(text, site, "site")
        code = self._names.get(key)
        if code is not None:
            st = entries[code]
            how = "code" if key == normalise(code) else "name" if key == normalise(st.name_zh) else "alias"
            if any(key == normalise(str(v)) for v in st.legacy.values() if v):
                how = "legacy"
            return Resolution(text, code, how)
        if len(key) >= 2:
            near = sorted(
                {c for name, c in self._names.items() if len(name) >= 2 and (key in name or name in key)}
            )
            if near:
                return Resolution(text, None, "ambiguous", tuple(near))
        return Resolution(text, None, "unknown")
