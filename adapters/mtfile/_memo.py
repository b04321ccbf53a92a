"""What a CDSS file's point-code column gives against one set of definitions, kept for the next file.

A KJ system writes the same points in the same order into every CDSS file: the point codes, their aliases, the
sensor-type texts and the facts the core derives from the aliases (all defined, no switch among them, each
point's range) repeat from file to file, while the values and times do not. :class:`ColumnMemo` keeps the last
point-code column and what follows from it; a new file whose column is equal (compared by value, at C speed)
reuses it. Nothing depending on values, statuses or times is kept.

Every entry names the definitions it was worked out against, compared by identity: the :class:`DeviceState`
tables that ``define_points`` rebuilds (``alias_set``, ``switch_aliases``, ``lows``, ``highs``) and the
``aliases_by_code`` dict with its size. Once the definitions change, nothing is reused.

Example::

    memo = ColumnMemo()
    aliases = memo.aliases(cols.point_codes, state)           # KeyError: a code without a definition
    facts = memo.facts(aliases, 0, len(aliases), state)       # {} until the column repeats
    violations = validate_batch_columns(batch, ctx, **facts)
"""

from __future__ import annotations

import threading
from operator import itemgetter
from typing import Any

from santong.protocols import DeviceState

__all__ = ["ColumnMemo"]


def _key(state: DeviceState) -> tuple[Any, ...]:
    return (state.alias_set, state.aliases_by_code, len(state.aliases_by_code))


def _joined(column: list[str]) -> str | None:
    """The column's texts joined by ``;``, when that stands for the column exactly (no text holds a ``;``, as none
    of a file's fields can): comparing two such strings compares the columns in one memcmp."""
    try:
        joined = ";".join(column)
    except TypeError:
        return None
    return joined if joined.count(";") == len(column) - 1 else None


def _equal(column: list[str], joined: str | None, seen: list[str], seen_joined: str | None) -> bool:
    """``column == seen`` (``joined``, ``seen_joined``: their ``_joined``), by one string comparison where both
    joined strings stand for their columns: as many texts, equal strings, no ``;`` but the separators."""
    if column is seen:
        return True
    if len(column) != len(seen):
        return False
    if joined is not None and seen_joined is not None:
        return joined == seen_joined
    return column == seen


def _same(a: tuple[Any, ...] | None, b: tuple[Any, ...]) -> bool:
    """The same definitions: each table the same object (the sizes equal)."""
    if a is None:
        return False
    return all(x is y or (type(x) is int and x == y) for x, y in zip(a, b, strict=True))


class ColumnMemo:
    """The last CDSS point-code column, its aliases, the core's facts about them and a sensor-type check passed."""

    __slots__ = ("_aliases", "_codes", "_facts", "_joined", "_key", "_lock", "_repeated", "_types")

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one converter may judge files from worker threads
        self._codes: list[str] | None = None
        self._joined: str | None = None  # _joined(self._codes)
        self._key: tuple[Any, ...] | None = None
        self._aliases: tuple[int, ...] = ()
        self._repeated = False  # the column came again: worth working out the core's facts once
        self._facts: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._types: tuple[Any, list[str], str | None] | None = None

    def aliases(self, codes: list[str], state: DeviceState) -> tuple[int, ...]:
        """The alias of each code by ``state.aliases_by_code`` (KeyError: a code that has no definition)."""
        with self._lock:
            return self._aliases_of(codes, state)

    def _aliases_of(self, codes: list[str], state: DeviceState) -> tuple[int, ...]:
        key = _key(state)
        joined = _joined(codes)
        seen = self._codes
        if seen is not None and _same(self._key, key) and _equal(codes, joined, seen, self._joined):
            self._codes = codes  # this file's list: the sensor-type check recognises it by identity
            self._repeated = True
            return self._aliases
        alias_of = state.aliases_by_code
        aliases = itemgetter(*codes)(alias_of) if len(codes) > 1 else (alias_of[codes[0]],)
        self._codes, self._joined, self._key, self._aliases = codes, joined, key, aliases
        self._repeated, self._facts, self._types = False, None, None
        return aliases

    def facts(self, aliases: Any, start: int, stop: int, state: DeviceState) -> dict[str, Any]:
        """Keyword arguments for ``validate_batch_columns`` on ``aliases[start:stop]`` against ``state``: the facts
        the core would work out (``known``, ``switch_free``, ``bounds``), or none (it works them out itself)."""
        with self._lock:
            return self._facts_of(aliases, start, stop, state)

    def _facts_of(self, aliases: Any, start: int, stop: int, state: DeviceState) -> dict[str, Any]:
        if aliases is not self._aliases or not self._repeated or not aliases:
            return {}
        key = (state.alias_set, state.switch_aliases, state.lows, state.highs)
        if self._facts is None or not _same(self._facts[0], key):
            known = state.alias_set.issuperset(aliases)
            facts: dict[str, Any] = {"known": known, "switch_free": state.switch_aliases.isdisjoint(aliases)}
            if known:
                many = len(aliases) > 1
                lows = itemgetter(*aliases)(state.lows) if many else (state.lows[aliases[0]],)
                highs = itemgetter(*aliases)(state.highs) if many else (state.highs[aliases[0]],)
                facts["bounds"] = (lows, highs)
            self._facts = (key, facts)
        facts = self._facts[1]
        if "bounds" not in facts or (start == 0 and stop == len(aliases)):
            return facts
        lows, highs = facts["bounds"]
        return {**facts, "bounds": (lows[start:stop], highs[start:stop])}

    def types_passed(self, codes: list[str], texts: list[str], table: Any) -> bool:
        """True when this column of codes with these sensor-type texts passed the check against ``table`` (the
        converter's point code → defined type table, the same object) before."""
        with self._lock:
            t = self._types
            if t is None or codes is not self._codes or t[0] is not table:
                return False
            return _equal(texts, _joined(texts), t[1], t[2])

    def types_pass(self, codes: list[str], texts: list[str], table: Any) -> None:
        """Remember that ``codes`` (the column :meth:`aliases` last saw) with ``texts`` passed against ``table``."""
        with self._lock:
            if codes is self._codes:
                self._types = (table, texts, _joined(texts))
