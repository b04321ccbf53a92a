"""Profiles (认证配置): clause sets built from selectors, adjusted per product class (conformance/profiles.yaml)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from santong.conformance._documents import ConfigError, Document, Problem, load_document, schema_problems
from santong.protocols import Clause, clauses

__all__ = ["Profile", "ProfileSet", "load_profiles", "profiles"]

PILLARS = ("DATA", "IFACE", "PROTO")
LEVELS = ("MUST", "SHOULD", "MAY")
CHECKERS = ("core", "platform", "product")


@dataclass(frozen=True, slots=True)
class Profile:
    """A profile resolved for one product class: the clauses it certifies and the features it requires."""

    name: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    product_class: str
    subjects: tuple[str, ...]
    clause_ids: tuple[str, ...]
    requires_features: tuple[str, ...]
    #: Clauses the profile would hold but the product class excludes: not applicable (reason product_class).
    class_excluded: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """``standard 标准 / Standard``."""
        return f"{self.name} {self.name_zh} / {self.name_en}"

    def must_ids(self) -> tuple[str, ...]:
        """The MUST clauses of the profile."""
        cs = clauses()
        return tuple(i for i in self.clause_ids if cs[i].level == "MUST")

    def as_dict(self) -> dict[str, Any]:
        """JSON form (embedded in the report)."""
        return {
            "name": self.name,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "product_class": self.product_class,
            "subjects": list(self.subjects),
            "clauses": list(self.clause_ids),
            "requires_features": list(self.requires_features),
            "class_excluded": list(self.class_excluded),
        }


def _as_list(v: str | list[str]) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def _matches(c: Clause, sel: str | Mapping[str, Any]) -> bool:
    if isinstance(sel, str):
        return c.id == sel
    for key, want in sel.items():
        values = _as_list(want)
        if key == "pillar" and c.id.split("-")[1] not in values:
            return False
        if key == "level" and c.level not in values:
            return False
        if key == "checked_by" and not set(c.checked_by) & set(values):
            return False
        if key == "applies_to" and not set(c.applies_to) & set(values):
            return False
        if key == "only_applies_to" and not (c.applies_to and set(c.applies_to) <= set(values)):
            return False
    return True


def _selector_problems(doc: Document, keys: list[str | int], sel: Any) -> list[Problem]:
    known = clauses()
    if isinstance(sel, str):
        if sel not in known:
            return [doc.problem(keys, f"条款 {sel} 不在条款目录中", f"clause {sel} is not in the catalogue")]
        return []
    out = []
    allowed = {"pillar": PILLARS, "level": LEVELS, "checked_by": CHECKERS}
    for key, want in sel.items():
        for v in _as_list(want):
            if key in allowed and v not in allowed[key]:
                out.append(
                    doc.problem(
                        [*keys, key],
                        f"{key} 的取值 {v} 无效；可选：{', '.join(allowed[key])}",
                        f"{key} value {v} is not allowed; choose one of: {', '.join(allowed[key])}",
                    )
                )
    return out


class ProfileSet:
    """Every profile of a profiles file, resolvable for each product class."""

    def __init__(self, doc: Document) -> None:
        self._doc = doc
        self._data: dict[str, Any] = doc.data
        self.names: tuple[str, ...] = tuple(self._data["profiles"])

    def problems(self, features: Iterable[str], product_classes: Iterable[str]) -> list[Problem]:
        """Unknown clause IDs, selector values, features and product classes in the file."""
        doc, out = self._doc, []
        features, product_classes = set(features), set(product_classes)
        for name, p in self._data["profiles"].items():
            for part in ("include", "exclude"):
                for i, sel in enumerate(p.get(part, [])):
                    out += _selector_problems(doc, ["profiles", name, part, i], sel)
            for i, f in enumerate(p.get("requires_features", [])):
                if f not in features:
                    out.append(
                        doc.problem(
                            ["profiles", name, "requires_features", i],
                            f"未知功能 {f}",
                            f"unknown feature {f}",
                        )
                    )
        for cls, spec in self._data["classes"].items():
            if cls not in product_classes:
                out.append(
                    doc.problem(["classes", cls], f"未知产品类别 {cls}", f"unknown product class {cls}")
                )
            for i, sel in enumerate(spec.get("exclude", [])):
                out += _selector_problems(doc, ["classes", cls, "exclude", i], sel)
            for prof, fs in spec.get("requires_features", {}).items():
                if prof not in self._data["profiles"]:
                    out.append(
                        doc.problem(
                            ["classes", cls, "requires_features", prof],
                            f"未知配置 {prof}",
                            f"unknown profile {prof}",
                        )
                    )
                for i, f in enumerate(fs):
                    if f not in features:
                        out.append(
                            doc.problem(
                                ["classes", cls, "requires_features", prof, i],
                                f"未知功能 {f}",
                                f"unknown feature {f}",
                            )
                        )
        return out

    def canonical_name(self, name: str) -> str | None:
        """The profile's key for a name or alias (``标准`` → ``standard``), None if unknown."""
        for key, p in self._data["profiles"].items():
            if name == key or name in p.get("aliases", []):
                return str(key)
        return None

    def resolve(self, name: str, product_class: str) -> Profile:
        """The profile ``name`` (or alias) for a product class; KeyError names the known profiles."""
        key = self.canonical_name(name)
        if key is None:
            raise KeyError(f"未知配置 unknown profile {name!r}; 可选 choose one of: {', '.join(self.names)}")
        p = self._data["profiles"][key]
        cls = self._data["classes"].get(product_class, {})
        own = [
            c
            for c in clauses().values()
            if any(_matches(c, s) for s in p["include"])
            and not any(_matches(c, s) for s in p.get("exclude", []))
        ]
        by_class = cls.get("exclude", [])
        ids = tuple(c.id for c in own if not any(_matches(c, s) for s in by_class))
        excluded = tuple(c.id for c in own if any(_matches(c, s) for s in by_class))
        features = [*p.get("requires_features", [])]
        features += [f for f in cls.get("requires_features", {}).get(key, []) if f not in features]
        return Profile(
            name=key,
            name_zh=p["name_zh"],
            name_en=p["name_en"],
            description_zh=p["description_zh"],
            description_en=p["description_en"],
            product_class=product_class,
            subjects=tuple(p["subjects"]),
            clause_ids=ids,
            requires_features=tuple(features),
            class_excluded=excluded,
        )

    def all_for(self, product_class: str) -> list[Profile]:
        """Every profile resolved for a product class, in file order."""
        return [self.resolve(n, product_class) for n in self.names]


def load_profiles(path: str | Path | None = None) -> ProfileSet:
    """Load and validate a profiles file (default: the bundled conformance/profiles.yaml)."""
    from santong.conformance._manifest import FEATURES, PRODUCT_CLASSES  # noqa: PLC0415

    if path is None:
        path = Path(str(resources.files("santong.conformance").joinpath("profiles.yaml")))
    doc = load_document(Path(path), "认证配置", "profiles")
    problems = schema_problems(doc, "profiles")
    if problems:
        raise ConfigError(problems, "认证配置", "profiles")
    ps = ProfileSet(doc)
    problems = ps.problems(FEATURES, PRODUCT_CLASSES)
    if problems:
        raise ConfigError(problems, "认证配置", "profiles")
    return ps


@cache
def profiles() -> ProfileSet:
    """The bundled profiles, loaded and validated once."""
    return load_profiles()
