"""Write MT/T files: a file name and body from records (fields cleaned, encoded as UTF-8 or GBK)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from santong.adapters.mtfile._errors import _ENCODING, _FIELDS, _NAME, _TYPE, _fail, _show
from santong.adapters.mtfile._filetypes import (
    HEADER,
    SUPPORTED_TYPES,
)
from santong.adapters.mtfile._model import _compact, format_time
from santong.adapters.mtfile._records import _count_error

_HEADER_FIELDS: Final = HEADER.fields

_MINE_CODE_RE: Final = re.compile(r"[0-9]{12}")


# ---------------------------------------------------------------------------------------------------------
# Writer


def write_file(
    mine_code: str,
    mine_name: str,
    file_type: str,
    records: Sequence[Sequence[str]],
    generated_at: datetime,
    encoding: str = "utf-8",
) -> tuple[str, bytes]:
    """Build a file name and body; the header's upload time is ``generated_at``.

    Example::

        name, data = write_file("140421000001", "示例煤矿", "CDSS",
                                [["14042100000101MN00010A01", "0001", "1号工作面", "0.52", "%CH4", "0",
                                  "2025-01-15 10:30:00"]], datetime(2025, 1, 15, 2, 30, tzinfo=UTC))
    """
    stamp = _compact(generated_at) if generated_at.tzinfo is not None else "?"
    name = f"{mine_code}_{file_type}_{stamp}.txt"
    if _MINE_CODE_RE.fullmatch(mine_code) is None or stamp == "?":
        raise _fail(
            _NAME,
            name,
            "煤矿编码须为 12 位数字，generated_at 须带时区",
            "the mine code must be 12 digits and generated_at timezone-aware",
        )
    spec = SUPPORTED_TYPES.get(file_type)
    if spec is None:
        raise _fail(
            _TYPE,
            name,
            f"文件类型不受支持；支持的类型：{'、'.join(SUPPORTED_TYPES)}",
            f"the file type is not supported; use one of {', '.join(SUPPORTED_TYPES)}",
        )
    if encoding not in ("utf-8", "gbk"):
        raise ValueError(f"encoding 须为 utf-8 或 gbk / encoding must be utf-8 or gbk, not {encoding!r}")
    lines = [f"{mine_code};{_clean(name, 0, 1, _HEADER_FIELDS, mine_name)};{format_time(generated_at)}~"]
    count = spec.field_count
    for index, record in enumerate(records, 1):
        if len(record) != count:
            raise _count_error(name, spec.fields, spec.fields_en, index, len(record))
        lines.append(";".join([_clean(name, index, i, spec.fields, v) for i, v in enumerate(record)]) + "~")
    text = "\r\n".join(lines) + "\r\n||"
    try:
        return name, text.encode(encoding)
    except UnicodeEncodeError as e:
        raise _fail(
            _ENCODING,
            name,
            f"字符 {_show(e.object[e.start : e.end])} 无法用 {encoding} 编码",
            f"the characters {_show(e.object[e.start : e.end])} cannot be encoded in {encoding}",
        ) from None


def _clean(file_name: str, index: int, i: int, fields: Sequence[str], value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"字段值须为 str / field values must be str, got {type(value).__name__}")
    if ";" in value or "~" in value or "|" in value or "\r" in value or "\n" in value:
        raise _fail(
            _FIELDS,
            file_name,
            f"字段值 {_show(value)} 含有“;”“~”“|”或换行，会破坏记录",
            f"the value {_show(value)} contains ';', '~', '|' or a line break, which would break the record",
            record_index=index,
            field=fields[i],
        )
    return value
