"""MT/T 1201 (KJ) text files: parse into protobuf messages, and write them back.

Grammar: ``{煤矿编码}_{TYPE}_{yyyyMMddHHmmss}.txt``; body = header record ``煤矿编码;矿井名称;数据上传时间``,
then data records; fields are separated by ``;``, records end with ``~``, the file with ``||``. Times are
China local time (UTC+8) and come out as UTC. Any error raises :class:`MtFileError` (carrying every grammar error
of the file in ``errors``); nothing is half-parsed.

Field orders follow the public parsers (see ``SUPPORTED_TYPES``). Three orders are santong's own choice,
because the standard's text is not public: RYQY ``区域编码;区域名称;区域类型;核定人数;数据时间``, RYJZ
``基站编码;区域编码;安装位置;X;Y;Z;数据时间``, JZSS ``基站编码;运行状态;供电状态;数据时间``. RYSS has 15 fields
and no 数据时间: its records take the header's 数据上传时间 as ``time``; its two flag fields (标志1, 标志2) are
read but not kept, their meaning is not confirmed. A 数据时间 without a protobuf field (TJSJ, YCBJ, RYQY, RYJZ) is
checked, then dropped.

Numbers are plain decimals (no plus sign, exponent or spaces). The CDSS hot path works column-wise on one big
split and falls back to the exact per-record path, which names the failing record and field, on any doubt. A CDSS
file keeps its records as :class:`ObservationColumns` (no object per record; each distinct value text and time
converted once); ``ParsedFile.observations`` builds the per-record view on first use, and ``to_batch`` packs
columns straight into an ObservationBatch.

Rooms: ``_filetypes`` the field tables (one per type; they drive the parser, the validator and the SPEC.md
section), ``_errors`` clause IDs and :class:`MtFileError`, ``_model`` result types and time helpers, ``_records``
the readers per field kind and the column-wise conversion (every bad field collected), ``_fastpath`` the CDSS column path, ``_batch`` ``to_batch``, ``_writer``
``write_file``, ``_sensors`` sensor-type resolution and site mappings, ``_folder`` files and folders judged as a
platform would. This module keeps file names, decoding, record splitting, the header and the counts, and
re-exports the public names.
"""

from __future__ import annotations

import gc
import os
import re
from datetime import datetime
from itertools import repeat
from typing import Any, Final

from santong.adapters.mtfile._batch import to_batch
from santong.adapters.mtfile._errors import (
    _ENCODING,
    _FIELDS,
    _MINE,
    _NAME,
    _TYPE,
    CLAUSES_CHECKED,
    INCOMPLETE_CLAUSE,
    MtFileError,
    _fail,
    _show,
)
from santong.adapters.mtfile._fastpath import _columns, _fast_cdss, _fast_cdss_utf8
from santong.adapters.mtfile._filetypes import (
    HEADER,
    SUPPORTED_TYPES,
    FileType,
)
from santong.adapters.mtfile._model import (
    CHINA_TZ,
    FileName,
    Header,
    Observation,
    ObservationColumns,
    ParsedFile,
    _local_to_utc,
    format_time,
)
from santong.adapters.mtfile._records import convert_records, count_errors, read_header
from santong.adapters.mtfile._writer import write_file

__all__ = [
    "CHINA_TZ",
    "CLAUSES_CHECKED",
    "INCOMPLETE_CLAUSE",
    "SUPPORTED_TYPES",
    "FileName",
    "FileType",
    "Header",
    "MtFileError",
    "Observation",
    "ObservationColumns",
    "ParsedFile",
    "format_time",
    "parse_bytes",
    "parse_file_name",
    "parse_path",
    "to_batch",
    "write_file",
]

_HEADER_FIELDS: Final = HEADER.fields

_NAME_RE: Final = re.compile(r"([0-9]{12})_([A-Z]+)_([0-9]{14})\.txt")
_LOOSE_NAME_RE: Final = re.compile(r"([0-9]{12})_([A-Za-z0-9]+)_([0-9]{14})\.txt")


# ---------------------------------------------------------------------------------------------------------
# File names


def parse_file_name(name: str) -> FileName:
    """Parse ``{煤矿编码}_{TYPE}_{yyyyMMddHHmmss}.txt`` (a bare name, not a path).

    Example: ``parse_file_name("140421000001_CDSS_20250115103000.txt").file_type == "CDSS"``.
    """
    m = _NAME_RE.fullmatch(name)
    if m is None:
        loose = _LOOSE_NAME_RE.fullmatch(name)
        if loose is not None:
            raise _fail(
                _TYPE,
                name,
                f"文件类型 {_show(loose.group(2))} 不受支持；支持的类型：{'、'.join(SUPPORTED_TYPES)}",
                f"file type {_show(loose.group(2))} is not supported; use one of {', '.join(SUPPORTED_TYPES)}",
            )
        raise _fail(
            _NAME,
            name,
            "文件名不符合“煤矿编码(12位数字)_类型_yyyyMMddHHmmss.txt”，例如 140421000001_CDSS_20250115103000.txt",
            "the file name must be {mine code, 12 digits}_{TYPE}_{yyyyMMddHHmmss}.txt, "
            "e.g. 140421000001_CDSS_20250115103000.txt",
        )
    mine_code, file_type, stamp = m.groups()
    if file_type not in SUPPORTED_TYPES:
        raise _fail(
            _TYPE,
            name,
            f"文件类型 {file_type} 不受支持；支持的类型：{'、'.join(SUPPORTED_TYPES)}",
            f"file type {file_type} is not supported; use one of {', '.join(SUPPORTED_TYPES)}",
        )
    generated_at = _local_to_utc(
        f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}"
    )
    if generated_at is None:
        raise _fail(
            _NAME,
            name,
            f"文件名中的时间 {stamp} 不是有效的 yyyyMMddHHmmss 时间",
            f"the time {stamp} in the file name is not a valid yyyyMMddHHmmss time",
        )
    return FileName(mine_code, file_type, generated_at)


# ---------------------------------------------------------------------------------------------------------
# Files


def _decode(file_name: str, data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        utf8_start = e.start
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as e:
        # The encoding that decodes further is the file's: the bad byte is where that one stops.
        start = max(utf8_start, e.start)
        line = data.count(b"\n", 0, start) + 1
        error = _fail(
            _ENCODING,
            file_name,
            f"既不是 UTF-8 也不是 GBK 编码（第 {line} 行、第 {start} 字节起无法解码），请以 UTF-8 或 GBK 保存",
            f"is neither UTF-8 nor GBK (cannot decode from byte {start}, line {line}); save it as UTF-8 or GBK",
        )
        error.line = line
        raise error from None


def _split_records(file_name: str, text: str) -> list[str]:
    """Split the body into records (header first), line breaks around records removed."""
    body = text.rstrip()
    if not body.endswith("||"):
        raise _fail(
            INCOMPLETE_CLAUSE,
            file_name,
            "文件不完整：缺少结尾的“||”（可能仍在写入或被截断），不导入任何记录，写完后会重试",
            "the file is incomplete: the final '||' is missing (still being written, or truncated); "
            "nothing was imported, it will be retried when complete",
        )
    body = body[:-2].strip("\r\n")
    if not body.endswith("~"):
        pieces = body.split("~")
        raise _fail(
            _FIELDS,
            file_name,
            "缺少表头记录“煤矿编码;矿井名称;数据上传时间~”"
            if not body
            else "记录没有以“~”结尾，请在每条记录（包括最后一条）后写“~”，文件最后写“||”",
            "the header record 'mine code;mine name;upload time~' is missing"
            if not body
            else "the record does not end with '~'; end every record (the last one too) with '~' "
            "and the file with '||'",
            record_index=len(pieces) - 1,
        )
    records = body[:-1].split("~")
    if "\r" in body or "\n" in body:
        records = list(map(str.strip, records, repeat("\r\n")))
    return records


def _strip_trailing(records: list[str], count: int) -> list[str]:
    """Drop the separator some KJ systems write after a record's last field (``…;2025-01-15 10:30:00;~``).

    Only a record with exactly one field too many, that extra field empty, loses it: a record that is short of a
    field or has more than one extra keeps its count and is reported (ST-DATA-042).
    """
    if not any(map(str.endswith, records, repeat(";"))):
        return records
    return [r[:-1] if r.endswith(";") and r.count(";") == count else r for r in records]


def _header(
    name: FileName, file_name: str, record: str, times: dict[str, datetime]
) -> tuple[Header | None, list[MtFileError]]:
    values = record.split(";")
    if len(values) == len(_HEADER_FIELDS) + 1 and not values[-1]:
        del values[-1]  # a trailing separator after the upload time
    if len(values) != len(_HEADER_FIELDS):
        return None, [
            _fail(
                _FIELDS,
                file_name,
                f"表头有 {len(values)} 个字段，应为 3 个：煤矿编码;矿井名称;数据上传时间",
                f"the header has {len(values)} fields, expected 3: mine code;mine name;upload time",
                record_index=0,
            )
        ]
    (mine_code, mine_name, uploaded_at), errors = read_header(file_name, HEADER, values, times)
    if mine_code != name.mine_code:
        errors = [e for e in errors if e.field != HEADER.fields[0]]  # one finding for the mine code
        errors.insert(
            0,
            _fail(
                _MINE,
                file_name,
                f"表头煤矿编码 {_show(values[0])} 与文件名中的 {name.mine_code} 不一致",
                f"the header mine code {_show(values[0])} differs from {name.mine_code} in the file name",
                record_index=0,
                field=HEADER.fields[0],
                field_en=HEADER.fields_en[0],
            ),
        )
    if errors:
        return None, errors
    return Header(mine_code, mine_name, uploaded_at), []


def _raise(errors: list[MtFileError]) -> None:
    """Raise the first error, carrying them all (``MtFileError.errors``)."""
    first = errors[0]
    first.errors = errors
    raise first


def parse_bytes(name: str, data: bytes) -> ParsedFile:
    """Parse a whole file (its bare name and its bytes); raise MtFileError on any problem: the first one, with
    every grammar error of the file in its ``errors`` (each record and field that is wrong, in file order).

    Example::

        parsed = parse_bytes("140421000001_CDSS_20250115103000.txt", data)
        for obs in parsed.observations:
            print(obs.point_code, obs.value, obs.time)
    """
    file_name = parse_file_name(name)
    spec = SUPPORTED_TYPES[file_name.file_type]
    data = bytes(data)
    # Parsing allocates one object per field; generational GC passes over them cost more than the parse.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        times: dict[str, datetime] = {}
        fast = _fast_cdss_utf8(data, times) if spec.code == "CDSS" else None  # a regular UTF-8 file
        encoding = "utf-8"
        if fast is None:
            text, encoding = _decode(name, data)
            fast = _fast_cdss(text, times) if spec.code == "CDSS" else None  # GBK, say
        if fast is not None:
            header, errors = _header(file_name, name, fast[0], times)
            if header is None:
                _raise(errors)
            assert header is not None
            return ParsedFile(file_name, encoding, header, spec.code, _columns=fast[1])
        records = _split_records(name, text)
        header, errors = _header(file_name, name, records[0], times)
        del records[0]
        records = _strip_trailing(records, spec.field_count)
        rows, indexes, count_errors_ = count_errors(name, spec, records)
        result: Any = None
        if spec.code == "CDSS" and not count_errors_ and rows:
            result = _columns(";".join(records).split(";"), spec.field_count, times)
        if result is None:
            result, field_errors = convert_records(name, spec, rows, indexes, times, header)
            errors += sorted(count_errors_ + field_errors, key=lambda e: e.record_index or 0)
        if errors:
            _raise(errors)
        assert header is not None
        if spec.code == "CDSS":
            return ParsedFile(file_name, encoding, header, spec.code, _columns=result)
        parsed = ParsedFile(file_name, encoding, header, spec.code)
        setattr(parsed, spec.result, result)
        return parsed
    finally:
        if gc_was_enabled:
            gc.enable()


def parse_path(path: str | os.PathLike[str]) -> ParsedFile:
    """Read a file and parse it under its own base name."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_bytes(os.path.basename(os.fspath(path)), data)
