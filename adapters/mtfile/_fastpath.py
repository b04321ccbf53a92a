"""The CDSS hot path: the whole file split once, checked and converted column by column."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, Final

from santong.adapters.mtfile._filetypes import STATUS_CODES, SUPPORTED_TYPES
from santong.adapters.mtfile._model import ObservationColumns, _distinct, _local_to_utc

_STATUS_CODES: Final = dict(STATUS_CODES)
_CDSS: Final = SUPPORTED_TYPES["CDSS"]
#: Where each column sits in a CDSS record (from its field table).
_TYPE, _LOCATION, _VALUE, _UNIT, _STATUS, _TIME = map(
    _CDSS.protos.index, ("sensor_type", "location", "value", "unit", "status", "time")
)
_CODE: Final = _CDSS.protos.index("point_code")
_WIDTH: Final = _CDSS.field_count

_NUMBER_CHARS: Final = re.compile(r"[0-9.\-]*")
_BOM: Final = b"\xef\xbb\xbf"


def _pick(table: dict[str, Any], keys: list[str]) -> Sequence[Any]:
    """``table[k]`` for each key, in order (KeyError: a key it lacks); one C call for all of them."""
    return itemgetter(*keys)(table) if len(keys) > 1 else [table[k] for k in keys]


def _floats(values: list[str]) -> list[float] | None:
    """Plain decimals → floats, converting each distinct text once; None on anything else."""
    distinct = set(values)
    if _NUMBER_CHARS.fullmatch("".join(distinct)) is None:
        return None
    try:
        if len(distinct) * 4 > len(values):
            numbers = list(map(float, values))
        else:  # sensor values repeat (switches, steady readings): one float() per distinct text
            numbers = list(_pick(dict(zip(distinct, map(float, distinct), strict=True)), values))
    except ValueError:
        return None
    # A sum that overflows only sends a valid file down the exact path, which checks value by value.
    return numbers if math.isfinite(sum(numbers)) else None


def _columns(
    fields: list[str], stride: int, times: dict[str, datetime], start: int = 0, stop: int | None = None
) -> ObservationColumns | None:
    """Check and convert CDSS columns sliced from a flat field list; None means "use the exact path"."""
    codes = fields[start + _CODE : stop : stride]
    # One string of the codes (no field holds a ';') shows an empty code (nothing, ';;' or a ';' at either end) and
    # a line break: the exact path strips those at a record's start, here they would stay in the point code.
    joined = ";".join(codes)
    if not joined or ";;" in joined or joined[0] == ";" or joined[-1] == ";":
        return None
    if "\n" in joined or "\r" in joined:
        return None
    numbers = _floats(fields[start + _VALUE : stop : stride])
    if numbers is None:
        return None
    try:
        status_codes: list[Any] = list(_pick(_STATUS_CODES, fields[start + _STATUS : stop : stride]))
    except KeyError:
        return None
    stamps = fields[start + _TIME : stop : stride]
    for stamp in _distinct(stamps).difference(times):
        utc = _local_to_utc(stamp)
        if utc is None:
            return None
        times[stamp] = utc
    return ObservationColumns(
        codes,
        fields[start + _TYPE : stop : stride],
        fields[start + _LOCATION : stop : stride],
        numbers,
        fields[start + _UNIT : stop : stride],
        status_codes,
        stamps,
        times,
    )


def _fast_cdss(text: str, times: dict[str, datetime]) -> tuple[str, ObservationColumns] | None:
    """The CDSS hot path for regular files (one record separator throughout, no stray ``~`` or line breaks).

    Returns the header record and the columns, or None when anything is irregular; the exact path
    then parses the file again and reports the first problem precisely.
    """
    body = text.rstrip()
    for separator in ("~\r\n", "~\n", "~"):
        if body.endswith(separator + "||"):
            break
    else:
        return None
    # Every "~" must end a record with this separator: counted once (one character, fast), then checked below
    # on the split, where each replaced separator is a lone "~" field.
    separators = body.count("~")
    if body.endswith(";" + separator + "||"):  # KJ exports often end every record with ";~"
        if body.count(";" + separator) < separators - 1:
            return None  # only some records do: the exact path strips them record by record
        body = body.replace(";" + separator, separator)
    header = body[: body.find(separator)]
    if "\r" in header or "\n" in header:
        return None
    # Every separator becomes a lone "~" field (a cached one-character string: no allocation): header (3 fields),
    # "~", then per record 7 fields and "~", and "||" last. A "~" not followed by the separator stays inside a field
    # and leaves one "~" field short.
    columns = _split(body.replace(separator, ";~;"), separators, times)
    return None if columns is None else (header, columns)


def _fast_cdss_utf8(data: bytes, times: dict[str, datetime]) -> tuple[str, ObservationColumns] | None:
    """:func:`_fast_cdss` on the bytes of a UTF-8 file (BOM or not): the records' separators found and replaced in
    the bytes, half the size of the text (no ASCII byte occurs inside a UTF-8 sequence, so a ``~``, ``;`` or line
    break byte is that character), then one decode. None also when the bytes are not UTF-8 (GBK: the text path)
    or end in whitespace other than ASCII's (the text path strips it)."""
    body = (data[3:] if data.startswith(_BOM) else data).rstrip()
    for separator in (b"~\r\n", b"~\n", b"~"):
        if body.endswith(separator + b"||"):
            break
    else:
        return None
    if body.endswith(b";" + separator + b"||"):
        if body.count(b";" + separator) < body.count(b"~") - 1:
            return None
        body = body.replace(b";" + separator, separator)
    head = body[: body.find(separator)]
    if b"\r" in head or b"\n" in head:
        return None
    try:
        text = body.replace(separator, b";~;").decode("utf-8")
    except UnicodeDecodeError:
        return None
    # every "~" of the body is in the text (counted there: faster than in the bytes), the separators' as lone fields
    columns = _split(text, text.count("~"), times)
    return None if columns is None else (head.decode("utf-8"), columns)


def _split(text: str, separators: int, times: dict[str, datetime]) -> ObservationColumns | None:
    """The columns of a CDSS body whose ``separators`` record separators became lone ``~`` fields, or None."""
    records = separators - 1
    if records < 1:
        return None
    fields = text.split(";")
    stride = _WIDTH + 1
    if len(fields) != stride * records + 5 or fields[3::stride].count("~") != separators:
        return None
    # Line breaks at a record's end are caught by the time check (the 数据时间 is the last field), at its start by
    # the point-code check in _columns.
    return _columns(fields, stride, times, 4, stride * records + 3)
