"""Declarative point mappings: 16-bit register words ⇄ engineering values (Modbus and the like).

A :class:`PointMapping` says how the raw words a device returns become one engineering value.
Decoding applies these steps, in this order, and nothing else:

1. take exactly ``register_count(data_type, length)`` 16-bit words, as the device returned them;
2. ``word_order="little"`` reverses the words (least significant word first on the wire);
3. ``byte_order="little"`` swaps the two bytes inside each word;
4. the resulting bytes, read most significant first, are decoded as ``data_type``
   (two's complement integers, IEEE 754 floats, a byte string for ``string``);
5. integer types (and ``bits``): ``& mask``, then ``>> shift``; ``bool``: bit ``bit`` (or "word != 0");
6. engineering value = raw * scale + offset (integers stay exact ``int`` when scale is 1 and offset 0).

Encoding inverts it exactly: value → (value - offset) / scale → round to an integer for integer types
(an error naming the point if it does not fit) → ``<< shift`` merged under ``mask`` (bits outside the
mask come from ``current`` words when given, else 0) → encode → byte order → word order → words.

``word_order`` applies to every multi-word type, ``string`` included; one-word types ignore it.
Strings are NUL-padded on encode and cut at the first NUL on decode.

Example::

    >>> m = PointMapping(name="CH4", data_type="float32", word_order="little")
    >>> round(decode(m, [0xE979, 0x42F6]), 3)
    123.456
    >>> encode(m, 123.456) == [0xE979, 0x42F6]
    True

A whole register block decodes in one pass with :func:`santong.adapters._blockdecode.compile_decoder`.
"""

from __future__ import annotations

import codecs
import math
import struct
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

__all__ = [
    "DATA_TYPES",
    "NON_FINITE_CLAUSE",
    "ChangeFilter",
    "DataType",
    "MappingError",
    "Order",
    "PointMapping",
    "ReportMode",
    "decode",
    "encode",
    "register_count",
]

DataType = Literal[
    "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "bool", "bits", "string"
]
Order = Literal["big", "little"]
ReportMode = Literal["change", "period"]
Value = float | bool | str

NON_FINITE_CLAUSE: Final = "ST-DATA-018"


class _TypeInfo(NamedTuple):
    """How one data type sits in registers: struct code, words, signedness, kind."""

    code: str
    words: int
    signed: bool
    kind: Literal["int", "float", "bool", "bits", "string"]


_TYPES: Final[dict[str, _TypeInfo]] = {
    "int16": _TypeInfo("h", 1, True, "int"),
    "uint16": _TypeInfo("H", 1, False, "int"),
    "int32": _TypeInfo("i", 2, True, "int"),
    "uint32": _TypeInfo("I", 2, False, "int"),
    "int64": _TypeInfo("q", 4, True, "int"),
    "uint64": _TypeInfo("Q", 4, False, "int"),
    "float32": _TypeInfo("f", 2, True, "float"),
    "float64": _TypeInfo("d", 4, True, "float"),
    "bool": _TypeInfo("H", 1, False, "bool"),
    "bits": _TypeInfo("H", 1, False, "bits"),
    "string": _TypeInfo("s", 0, False, "string"),
}
_UNSIGNED_CODE: Final = {1: "H", 2: "I", 4: "Q"}
_ORDERS: Final = ("big", "little")
DATA_TYPES: Final[tuple[str, ...]] = tuple(_TYPES)


class MappingError(ValueError):
    """A point mapping is invalid, or a value cannot be decoded/encoded with it (中文 / English)."""

    def __init__(
        self, message_zh: str, message_en: str, *, point: str | None = None, clause_id: str | None = None
    ) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        self.point = point
        self.clause_id = clause_id
        where = f"测点/point {point!r}: " if point else ""
        tag = f"[{clause_id}] " if clause_id else ""
        super().__init__(f"{tag}{where}{message_zh} / {message_en}")


def register_count(data_type: str, length: int | None = None) -> int:
    """Number of 16-bit registers a value of ``data_type`` occupies (``length`` words for strings)."""
    info = _TYPES.get(data_type)
    if info is None:
        raise MappingError(
            f"未知的 data_type {data_type!r}，可选：{', '.join(DATA_TYPES)}",
            f"unknown data_type {data_type!r}; use one of: {', '.join(DATA_TYPES)}",
        )
    if info.kind != "string":
        return info.words
    if not _is_int(length) or length < 1:  # type: ignore[operator]
        raise MappingError(
            f"string 类型需要 length（寄存器个数，≥1），当前为 {length!r}",
            f"data_type 'string' needs length (number of registers, >= 1), got {length!r}",
        )
    return int(length)  # type: ignore[arg-type]


def _is_int(x: object) -> bool:
    """True for a real integer (bool excluded)."""
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: object) -> bool:
    """True for an int or float (bool excluded)."""
    return isinstance(x, int | float) and not isinstance(x, bool)


@dataclass(frozen=True, slots=True, kw_only=True)
class PointMapping:
    """How one point's raw register words become an engineering value (see the module docstring)."""

    data_type: DataType
    name: str = ""
    byte_order: Order = "big"
    word_order: Order = "big"
    scale: float = 1.0
    offset: float = 0.0
    mask: int | None = None
    shift: int = 0
    bit: int | None = None
    length: int | None = None
    encoding: str = "utf-8"
    deadband: float = 0.0
    report: ReportMode = "change"
    period_ms: int | None = None

    def __post_init__(self) -> None:
        """Check every field; raise MappingError naming the field and the fix."""
        if not isinstance(self.name, str):
            self._fail(f"name 必须是字符串，当前为 {self.name!r}", f"name must be a str, got {self.name!r}")
        info = _TYPES.get(self.data_type) if isinstance(self.data_type, str) else None
        if info is None:
            self._fail(
                f"未知的 data_type {self.data_type!r}，请改为以下之一：{', '.join(DATA_TYPES)}",
                f"unknown data_type {self.data_type!r}; set it to one of: {', '.join(DATA_TYPES)}",
            )
        assert info is not None
        for field in ("byte_order", "word_order"):
            if getattr(self, field) not in _ORDERS:
                self._fail(
                    f"{field} 只能是 'big' 或 'little'，当前为 {getattr(self, field)!r}",
                    f"{field} must be 'big' or 'little', got {getattr(self, field)!r}",
                )
        self._check_scale_offset(info)
        self._check_bits(info)
        self._check_length(info)
        self._check_report()

    def _fail(self, zh: str, en: str) -> None:
        """Raise a MappingError about this point."""
        raise MappingError(zh, en, point=self.name or None)

    def _check_scale_offset(self, info: _TypeInfo) -> None:
        """scale: finite, non-zero; offset: finite; both neutral for bool and string."""
        if not _is_real(self.scale) or not math.isfinite(self.scale) or self.scale == 0:
            self._fail(
                f"scale 必须是有限的非零数（原始值 × scale + offset = 工程值，如 0.1），当前为 {self.scale!r}",
                f"scale must be a finite non-zero number (raw * scale + offset = value, e.g. 0.1), "
                f"got {self.scale!r}",
            )
        if not _is_real(self.offset) or not math.isfinite(self.offset):
            self._fail(
                f"offset 必须是有限数，当前为 {self.offset!r}",
                f"offset must be a finite number, got {self.offset!r}",
            )
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "offset", float(self.offset))
        if info.kind in ("bool", "string") and (self.scale != 1.0 or self.offset != 0.0):
            self._fail(
                f"{self.data_type} 类型不能设置 scale/offset，请删除这两项",
                f"scale/offset do not apply to data_type {self.data_type!r}; remove them",
            )

    def _check_bits(self, info: _TypeInfo) -> None:
        """mask/shift only on integer types and bits; bit only on bool."""
        width = 16 * info.words
        integer = info.kind in ("int", "bits")
        if self.mask is not None:
            if not integer:
                self._fail(
                    f"mask 只适用于整数类型和 bits，{self.data_type} 请删除 mask（bool 用 bit）",
                    f"mask applies to integer types and bits only; remove it from this "
                    f"{self.data_type} point (bool uses bit)",
                )
            if not _is_int(self.mask) or not 0 < self.mask < (1 << width):
                self._fail(
                    f"mask 必须是 1..0x{(1 << width) - 1:X} 之间的整数，当前为 {self.mask!r}",
                    f"mask must be an int in 1..0x{(1 << width) - 1:X}, got {self.mask!r}",
                )
        elif info.kind == "bits":
            self._fail(
                "bits 类型需要 mask（如 mask=0x0F00, shift=8）",
                "data_type 'bits' needs a mask (e.g. mask=0x0F00, shift=8)",
            )
        if not _is_int(self.shift) or not 0 <= self.shift < (width if integer else 1):
            self._fail(
                f"shift 只用于整数类型和 bits，取值 0..{max(width, 16) - 1}，当前为 {self.shift!r}"
                f"（data_type={self.data_type}）",
                f"shift is for integer types and bits only, in 0..{max(width, 16) - 1}, got {self.shift!r} "
                f"(data_type={self.data_type})",
            )
        if self.mask is not None and self.mask & ((1 << self.shift) - 1):
            self._fail(
                f"mask 0x{self.mask:X} 有低于 shift={self.shift} 的位，这些位会被丢弃；"
                f"请把 shift 设为 mask 最低置位的位置（{(self.mask & -self.mask).bit_length() - 1}）",
                f"mask 0x{self.mask:X} has bits below shift={self.shift} that would be discarded; set shift "
                f"to the position of the mask's lowest set bit ({(self.mask & -self.mask).bit_length() - 1})",
            )
        if self.bit is not None and (info.kind != "bool" or not _is_int(self.bit) or not 0 <= self.bit < 16):
            self._fail(
                f"bit 只用于 bool 类型，取值 0..15，当前为 {self.bit!r}（data_type={self.data_type}）",
                f"bit is for data_type 'bool' only and must be in 0..15, got {self.bit!r} "
                f"(data_type={self.data_type})",
            )

    def _check_length(self, info: _TypeInfo) -> None:
        """length: required for string, otherwise absent or equal to the type's register count."""
        if info.kind == "string":
            if not _is_int(self.length) or self.length < 1:  # type: ignore[operator]
                self._fail(
                    f"string 类型需要 length（寄存器个数，≥1），当前为 {self.length!r}",
                    f"data_type 'string' needs length (number of registers, >= 1), got {self.length!r}",
                )
            try:
                codecs.lookup(self.encoding)
            except (LookupError, TypeError) as e:
                raise MappingError(
                    f"未知的字符编码 encoding={self.encoding!r}（如 'utf-8'、'gbk'）",
                    f"unknown encoding={self.encoding!r} (e.g. 'utf-8', 'gbk')",
                    point=self.name or None,
                ) from e
        elif self.length is not None and self.length != info.words:
            self._fail(
                f"{self.data_type} 固定占 {info.words} 个寄存器，length 应删除或设为 {info.words}",
                f"{self.data_type} always takes {info.words} register(s); remove length or set it to "
                f"{info.words}",
            )

    def _check_report(self) -> None:
        """deadband ≥ 0; report 'change' or 'period'; period_ms > 0 (required for 'period')."""
        if not _is_real(self.deadband) or not math.isfinite(self.deadband) or self.deadband < 0:
            self._fail(
                f"deadband 必须是 ≥0 的有限数（绝对值死区），当前为 {self.deadband!r}",
                f"deadband must be a finite number >= 0 (absolute), got {self.deadband!r}",
            )
        object.__setattr__(self, "deadband", float(self.deadband))
        if self.report not in ("change", "period"):
            self._fail(
                f"report 只能是 'change' 或 'period'，当前为 {self.report!r}",
                f"report must be 'change' or 'period', got {self.report!r}",
            )
        if self.period_ms is not None and (not _is_int(self.period_ms) or self.period_ms <= 0):
            self._fail(
                f"period_ms 必须是正整数（毫秒），当前为 {self.period_ms!r}",
                f"period_ms must be a positive int (milliseconds), got {self.period_ms!r}",
            )
        if self.report == "period" and self.period_ms is None:
            self._fail(
                "report='period' 需要 period_ms（如 period_ms=1000）",
                "report='period' needs period_ms (e.g. period_ms=1000)",
            )

    @property
    def register_count(self) -> int:
        """Registers this point occupies."""
        return register_count(self.data_type, self.length)


# ---------------------------------------------------------------- per-point decode / encode


def _error(m: PointMapping, zh: str, en: str, clause_id: str | None = None) -> MappingError:
    """A MappingError about point ``m``."""
    return MappingError(zh, en, point=m.name or m.data_type, clause_id=clause_id)


def _words_to_bytes(m: PointMapping, words: Sequence[int]) -> bytes:
    """Steps 1-3: check the word count, reorder words, swap bytes; big-endian value bytes."""
    n = register_count(m.data_type, m.length)
    if len(words) != n:
        raise _error(
            m,
            f"{m.data_type} 需要 {n} 个寄存器，实际给了 {len(words)} 个",
            f"{m.data_type} needs {n} register word(s), got {len(words)}",
        )
    ordered = list(reversed(words)) if m.word_order == "little" else list(words)
    try:
        return struct.pack(f"{'<' if m.byte_order == 'little' else '>'}{n}H", *ordered)
    except struct.error as e:
        raise _error(
            m,
            f"寄存器值必须是 0..65535 的整数，实际为 {list(words)!r}",
            f"register words must be ints in 0..65535, got {list(words)!r}",
        ) from e


def _bytes_to_words(m: PointMapping, data: bytes) -> list[int]:
    """Steps 3-1 backwards: big-endian value bytes → byte order → word order → words."""
    n = len(data) // 2
    words = list(struct.unpack(f"{'<' if m.byte_order == 'little' else '>'}{n}H", data))
    if m.word_order == "little":
        words.reverse()
    return words


def _affine(m: PointMapping, raw: float) -> float:
    """Step 6: raw * scale + offset; ints stay exact for the identity mapping."""
    if isinstance(raw, int) and m.scale == 1.0 and m.offset == 0.0:
        return raw
    # ``offset or -0.0``: x + (-0.0) == x for every x, so -0.0 survives the identity mapping.
    return raw * m.scale + (m.offset or -0.0)


def decode(mapping: PointMapping, words: Sequence[int]) -> Value:
    """Decode one point's register words into its engineering value (float, int, bool or str)."""
    info = _TYPES[mapping.data_type]
    data = _words_to_bytes(mapping, words)
    if info.kind == "string":
        text = data.split(b"\x00", 1)[0]
        try:
            return text.decode(mapping.encoding)
        except UnicodeDecodeError as e:
            raise _error(
                mapping,
                f"字节 {text!r} 不是合法的 {mapping.encoding} 文本",
                f"bytes {text!r} are not valid {mapping.encoding} text",
            ) from e
    (raw,) = struct.unpack(">" + info.code, data)
    if info.kind == "bool":
        return bool(raw) if mapping.bit is None else bool(raw >> mapping.bit & 1)
    if mapping.mask is not None:
        raw &= mapping.mask
    if mapping.shift:
        raw >>= mapping.shift
    value = _affine(mapping, raw)
    if not math.isfinite(value):
        raise _error(
            mapping,
            f"解码结果不是有限数（{value!r}，寄存器 {[f'0x{w:04X}' for w in words]}）；不得上报 NaN/Inf",
            f"decoded value is not finite ({value!r}, words {[f'0x{w:04X}' for w in words]}); "
            f"NaN/Inf must not be reported",
            NON_FINITE_CLAUSE,
        )
    return value


def _current_raw(m: PointMapping, info: _TypeInfo, current: Sequence[int] | None) -> int:
    """The raw unsigned bit pattern of the ``current`` words (0 when not given)."""
    if current is None:
        return 0
    data = _words_to_bytes(m, current)
    return int(struct.unpack(">" + _UNSIGNED_CODE[info.words], data)[0])


def _out_of_range(m: PointMapping, value: object, lo: int, hi: int, raw: object) -> MappingError:
    """The error for a value whose raw form does not fit the point."""
    return _error(
        m,
        f"值 {value!r} 换算为原始值 {raw!r}，超出 {m.data_type} 可写范围 [{lo}, {hi}]",
        f"value {value!r} becomes raw {raw!r}, outside what {m.data_type} can hold [{lo}, {hi}]",
    )


def encode(mapping: PointMapping, value: Value, *, current: Sequence[int] | None = None) -> list[int]:
    """Encode an engineering value into register words; bits outside mask/bit come from ``current``."""
    info = _TYPES[mapping.data_type]
    n = register_count(mapping.data_type, mapping.length)
    if info.kind == "string":
        return _bytes_to_words(mapping, _encode_string(mapping, value, n))
    if info.kind == "bool":
        if not isinstance(value, bool) and value not in (0, 1):
            raise _error(
                mapping,
                f"bool 测点只能写 True/False，实际为 {value!r}",
                f"a bool point takes True/False, got {value!r}",
            )
        old = _current_raw(mapping, info, current)
        if mapping.bit is None:
            pattern = int(bool(value))
        else:
            pattern = old & ~(1 << mapping.bit) | (int(bool(value)) << mapping.bit)
        return _bytes_to_words(mapping, struct.pack(">H", pattern))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error(mapping, f"需要数值，实际为 {value!r}", f"a number is needed, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _error(mapping, f"不能写入非有限数 {value!r}", f"cannot encode the non-finite value {value!r}")
    if info.kind == "float":
        try:
            raw_f = (value - mapping.offset) / mapping.scale
            if not math.isfinite(raw_f):
                raise OverflowError(raw_f)
            data = struct.pack(">" + info.code, raw_f)  # OverflowError beyond float32's range
        except OverflowError as e:
            raise _error(
                mapping,
                f"值 {value!r} 换算后超出 {mapping.data_type} 范围",
                f"value {value!r}, scaled back, is outside the range of {mapping.data_type}",
            ) from e
        return _bytes_to_words(mapping, data)
    return _bytes_to_words(mapping, _encode_integer(mapping, info, value, current))


def _encode_integer(m: PointMapping, info: _TypeInfo, value: float, current: Sequence[int] | None) -> bytes:
    """Integer/bits encode: scale back, round, shift, merge under mask; big-endian bytes."""
    width = 16 * info.words
    full = (1 << width) - 1
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if info.signed else (0, full)
    if m.mask is not None:
        lo, hi = 0, m.mask >> m.shift
    else:
        lo, hi = lo >> m.shift, hi >> m.shift
    if isinstance(value, int) and m.scale == 1.0 and m.offset == 0.0:
        field = value  # exact, even beyond 2**53
    else:
        try:
            field = round((value - m.offset) / m.scale)  # OverflowError for inf and huge ints
        except OverflowError as e:
            raise _out_of_range(m, value, lo, hi, "∞") from e
    if not lo <= field <= hi or (m.mask is not None and (field << m.shift) & ~m.mask):
        raise _out_of_range(m, value, lo, hi, field)
    if m.mask is not None:
        pattern = field << m.shift | _current_raw(m, info, current) & ~m.mask & full
    else:
        low_bits = (1 << m.shift) - 1
        pattern = (field << m.shift) & full | _current_raw(m, info, current) & low_bits
    return struct.pack(">" + _UNSIGNED_CODE[info.words], pattern)


def _encode_string(m: PointMapping, value: object, n: int) -> bytes:
    """String encode: text → bytes in the point's encoding, NUL-padded to ``n`` registers."""
    if not isinstance(value, str) or "\x00" in value:
        raise _error(
            m,
            f"string 测点需要不含 NUL 的字符串，实际为 {value!r}",
            f"a string point takes a str without NUL characters, got {value!r}",
        )
    try:
        data = value.encode(m.encoding)
    except UnicodeEncodeError as e:
        raise _error(
            m, f"{value!r} 无法用 {m.encoding} 编码", f"{value!r} cannot be encoded as {m.encoding}"
        ) from e
    if len(data) > 2 * n:
        raise _error(
            m,
            f"字符串编码后 {len(data)} 字节，超过 length={n} 个寄存器（{2 * n} 字节）",
            f"the string takes {len(data)} bytes, more than length={n} registers ({2 * n} bytes)",
        )
    return data.ljust(2 * n, b"\x00")


# ---------------------------------------------------------------- report-by-exception


class ChangeFilter:
    """Report filter: pass a value that moved beyond the deadband, or whose period elapsed.

    Example::

        f = ChangeFilter(deadband=0.5)
        f.accept("CH4", 1.0, now_ms=0)          # True  (first value)
        f.accept("CH4", 1.3, now_ms=100)        # False (within 0.5 of the last report)
        f.accept("CH4", 1.3, now_ms=60_000, period_ms=60_000)  # True (period elapsed)
    """

    __slots__ = ("_last", "deadband")

    def __init__(self, deadband: float = 0.0) -> None:
        """Create a filter with a default absolute deadband."""
        if not _is_real(deadband) or not math.isfinite(deadband) or deadband < 0:
            raise MappingError(
                f"deadband 必须是 ≥0 的有限数，当前为 {deadband!r}",
                f"deadband must be a finite number >= 0, got {deadband!r}",
            )
        self.deadband = float(deadband)
        self._last: dict[Hashable, tuple[Value, int]] = {}

    @property
    def last(self) -> dict[Hashable, tuple[Value, int]]:
        """The last reported (value, time_ms) per key: a converter's hot loop may apply :meth:`accept_point`'s
        rules to it inline (the Modbus uplink does, with the same rules)."""
        return self._last

    def accept(
        self,
        key: Hashable,
        value: Value,
        now_ms: int,
        period_ms: int | None = None,
        *,
        deadband: float | None = None,
    ) -> bool:
        """True (and remember it) if ``value`` should be reported now; False to suppress it."""
        last = self._last.get(key)
        if last is None or self._changed(last[0], value, self.deadband if deadband is None else deadband):
            self._last[key] = (value, now_ms)
            return True
        elapsed = now_ms - last[1]
        if (period_ms is not None and elapsed >= period_ms) or elapsed < 0:  # < 0: clock stepped back
            self._last[key] = (value, now_ms)
            return True
        return False

    def accept_point(self, key: Hashable, mapping: PointMapping, value: Value, now_ms: int) -> bool:
        """accept() with the point's own report mode, deadband and period."""
        if mapping.report == "period":
            last = self._last.get(key)
            assert mapping.period_ms is not None
            if last is not None and 0 <= now_ms - last[1] < mapping.period_ms:
                return False
            self._last[key] = (value, now_ms)
            return True
        return self.accept(key, value, now_ms, mapping.period_ms, deadband=mapping.deadband)

    def reset(self, key: Hashable | None = None) -> None:
        """Forget one key (or all), so its next value is reported."""
        if key is None:
            self._last.clear()
        else:
            self._last.pop(key, None)

    @staticmethod
    def _changed(old: Value, new: Value, deadband: float) -> bool:
        """True if ``new`` differs from ``old`` by more than ``deadband`` (bool/str: any difference)."""
        if old.__class__ is float and new.__class__ is float:  # the hot path: two floats
            return not abs(new - old) <= deadband
        if isinstance(old, bool | str) or isinstance(new, bool | str):
            return type(old) is not type(new) or old != new
        return not abs(new - old) <= deadband  # NaN compares false: counts as a change
