"""MT/T 1201 (KJ) text files: ``{煤矿编码}_{TYPE}_{yyyyMMddHHmmss}.txt`` parsed into santong protobuf messages."""

from santong.adapters.mtfile._parser import (
    CHINA_TZ,
    CLAUSES_CHECKED,
    INCOMPLETE_CLAUSE,
    SUPPORTED_TYPES,
    FileName,
    FileType,
    Header,
    MtFileError,
    Observation,
    ObservationColumns,
    ParsedFile,
    format_time,
    parse_bytes,
    parse_file_name,
    parse_path,
    to_batch,
    write_file,
)
from santong.adapters.mtfile._validate import file_messages, validate_mt_file
from santong.adapters.mtfile.adapter import (
    PENDING_KEY,
    MtFileAdapter,
    MtFileStats,
    ScanReport,
    TransactionalSink,
)
from santong.adapters.mtfile.config import MtFileSettings
from santong.adapters.mtfile.converter import FileUnit, Finding, MtFileConverter, Upload

__all__ = [
    "PENDING_KEY",
    "FileUnit",
    "Finding",
    "MtFileAdapter",
    "MtFileConverter",
    "MtFileSettings",
    "MtFileStats",
    "ObservationColumns",
    "ScanReport",
    "TransactionalSink",
    "Upload",
    "file_messages",
    "validate_mt_file",
    "CHINA_TZ",
    "CLAUSES_CHECKED",
    "INCOMPLETE_CLAUSE",
    "SUPPORTED_TYPES",
    "FileName",
    "FileType",
    "Header",
    "MtFileError",
    "Observation",
    "ParsedFile",
    "format_time",
    "parse_bytes",
    "parse_file_name",
    "parse_path",
    "to_batch",
    "write_file",
]
