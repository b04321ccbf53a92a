"""MT/T file errors: the clause each grammar rule breaks, and errors naming file, record and field."""

from __future__ import annotations

from typing import Final

INCOMPLETE_CLAUSE: Final = "ST-DATA-041"
_NAME: Final = "ST-DATA-040"
_FIELDS: Final = "ST-DATA-042"
_ENCODING: Final = "ST-DATA-043"
_TIME: Final = "ST-DATA-044"
_VALUE: Final = "ST-DATA-045"
_TYPE: Final = "ST-DATA-046"
_MINE: Final = "ST-DATA-047"
#: The clauses this parser enforces (grammar of the text files); the validation core checks the content.
CLAUSES_CHECKED: Final = frozenset(
    {_NAME, INCOMPLETE_CLAUSE, _FIELDS, _ENCODING, _TIME, _VALUE, _TYPE, _MINE}
)


class MtFileError(ValueError):
    """A file that breaks the MT/T 1201 grammar; ``clause_id`` names the rule, the message says what to fix.

    Example::

        try:
            parsed = parse_bytes(name, data)
        except MtFileError as e:
            if e.clause_id == INCOMPLETE_CLAUSE:
                retry_later(name)
    """

    def __init__(
        self,
        clause_id: str,
        message: str,
        *,
        file_name: str,
        record_index: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(f"[{clause_id}] {message}")
        self.clause_id = clause_id
        self.file_name = file_name
        self.record_index = record_index
        self.field = field
        #: The 1-based line of the file, where the parser knows it without the text (encoding errors).
        self.line: int | None = None
        #: What is wrong, without the where (file, record, field), in Chinese and English.
        self.message_zh = self.message_en = str(self)
        self.field_en: str | None = None
        #: Every grammar error of the file, this one first (file order: record, then field).
        self.errors: list[MtFileError] = [self]


def _fail(
    clause_id: str,
    file_name: str,
    zh: str,
    en: str,
    *,
    record_index: int | None = None,
    field: str | None = None,
    field_en: str | None = None,
) -> MtFileError:
    """Build an error whose message names the file, the record and the field in Chinese and English."""
    where_zh = f"文件 {file_name}"
    where_en = f"file {file_name}"
    if record_index is not None:
        if record_index == 0:
            where_zh += "，表头（第 0 条记录）"
            where_en += ", header (record 0)"
        else:
            where_zh += f"，第 {record_index} 条记录"
            where_en += f", record {record_index}"
    if field is not None:
        where_zh += f"，字段“{field}”"
        where_en += f", field {field}" + (f" ({field_en})" if field_en else "")
    error = MtFileError(
        clause_id,
        f"{where_zh}：{zh} / {where_en}: {en}",
        file_name=file_name,
        record_index=record_index,
        field=field,
    )
    error.message_zh, error.message_en, error.field_en = zh, en, field_en
    return error


def _show(text: str, limit: int = 40) -> str:
    """Quote a field value for a message, shortened."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
