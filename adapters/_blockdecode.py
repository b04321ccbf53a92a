"""The block decoder: one contiguous register block → many engineering values, one ``struct.unpack``.

:func:`compile_decoder` takes (mapping, register offset) pairs and builds, once, a kernel that applies the steps of
:func:`santong.adapters._mapping.decode` to every point of the block: the words packed once (word and byte order
handled by the Struct prefixes, or by a gather when points disagree), unpacked once into locals, and every
point's mask, shift, scale and offset written out in one list display. Values must be finite (ST-DATA-018): a
non-finite one raises :class:`~santong.adapters._mapping.MappingError` naming the point.

Example::

    >>> from santong.adapters._mapping import PointMapping
    >>> m = PointMapping(name="CH4", data_type="float32", word_order="little")
    >>> block = compile_decoder([(m, 0), (PointMapping(data_type="int16", scale=0.1), 2)])
    >>> [round(v, 3) for v in block([0xE979, 0x42F6, 0xFF85])]
    [123.456, -12.3]
"""

from __future__ import annotations

import functools
import math
import struct
import sys
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from santong.adapters._mapping import _TYPES, NON_FINITE_CLAUSE, MappingError, PointMapping, _error, _is_int

__all__ = ["BlockDecoder", "compile_decoder"]

_Getter = Callable[[Sequence[int]], tuple[int, ...]]


def _byte_order_pair(m: PointMapping) -> tuple[str, str | None]:
    """(byte_order, word_order) this point needs from a block; one-word points accept any word order."""
    return m.byte_order, (m.word_order if _TYPES[m.data_type].words > 1 else None)


class BlockDecoder(functools.partial):  # type: ignore[type-arg]
    """Decodes one contiguous register block into many point values with one struct.unpack.

    A decoder is its generated kernel (:attr:`func`) behind :class:`functools.partial`, whose C-level call passes
    the words straight to the kernel: no Python-level wrapper on the hot path. ``layout`` is ``direct`` (one
    Struct pack of the block, one unpack) or ``permuted`` (words or bytes gathered first); ``struct_format`` the
    unpack format.
    """

    __slots__ = ("_points", "block_length", "layout", "mappings", "struct_format")
    _points: tuple[tuple[PointMapping, int], ...]
    block_length: int
    layout: Literal["direct", "permuted"]
    mappings: tuple[PointMapping, ...]
    struct_format: str

    if TYPE_CHECKING:

        def __call__(self, words: Sequence[int], /) -> list[float]:
            """Decode the block; one value per point, in the order the points were given."""
            ...

    def __new__(
        cls, points: Iterable[tuple[PointMapping, int]], block_length: int | None = None
    ) -> BlockDecoder:
        """Check the points, build the struct formats and the specialised decode kernel once."""
        pts = list(points)
        for m, off in pts:
            if not isinstance(m, PointMapping):
                raise MappingError(f"需要 PointMapping，实际为 {m!r}", f"a PointMapping is needed, got {m!r}")
            if _TYPES[m.data_type].kind == "string":
                raise _error(
                    m,
                    "compile_decoder 不处理 string，请用 decode()",
                    "compile_decoder does not take string points; use decode() for them",
                )
            if not _is_int(off) or off < 0:
                raise _error(
                    m,
                    f"寄存器偏移必须是 ≥0 的整数，实际为 {off!r}",
                    f"register offset must be an int >= 0, got {off!r}",
                )
        end = max((off + m.register_count for m, off in pts), default=0)
        if block_length is None:
            block_length = end
        if not _is_int(block_length) or block_length < end:
            raise MappingError(
                f"block_length={block_length!r} 小于测点占用的 {end} 个寄存器",
                f"block_length={block_length!r} is shorter than the {end} registers the points use",
            )
        mappings = tuple(m for m, _ in pts)
        plan = _layout(pts, block_length)
        top = _top_bytes(plan.struct_format, mappings)
        self = super().__new__(cls, _kernel(mappings, block_length, plan, top))
        self._points = tuple(pts)
        self.mappings = mappings
        self.block_length = block_length
        self.layout = plan.name
        self.struct_format = plan.struct_format
        return self

    def __repr__(self) -> str:
        """Short description: points, block length and layout."""
        return f"BlockDecoder({len(self.mappings)} points, {self.block_length} registers, {self.layout})"

    def __reduce__(self) -> Any:
        """Pickled as its points (the kernel is generated code, built again)."""
        return BlockDecoder, (self._points, self.block_length)

    def __copy__(self) -> BlockDecoder:
        """A decoder never changes: a copy is itself."""
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> BlockDecoder:
        """A decoder never changes: a copy is itself."""
        return self


class _Layout(NamedTuple):
    """How a block's words reach the kernel's single unpack."""

    name: Literal["direct", "permuted"]
    struct_format: str
    pack: Callable[..., bytes]
    unpack: Callable[[bytes], tuple[float, ...]]
    word_getter: _Getter | None = None
    byte_getter: _Getter | None = None


def _layout(pts: list[tuple[PointMapping, int]], n: int) -> _Layout:
    """Struct formats and word/byte gathers: direct when points are in order and share their orders."""
    pairs = {_byte_order_pair(m) for m, _ in pts}
    byte_orders = {b for b, _ in pairs}
    word_orders = {w for _, w in pairs} - {None}
    in_order = all(a[1] + a[0].register_count <= b[1] for a, b in zip(pts, pts[1:], strict=False))
    if in_order and len(byte_orders) <= 1 and len(word_orders) <= 1:
        byte_order = next(iter(byte_orders), "big")
        word_order = next(iter(word_orders), "big")
        # Packing the words little-endian swaps the bytes of every word; unpacking little-endian
        # reverses each value's bytes, i.e. its words and the bytes in them.  The four orders:
        # ABCD > >, DCBA > <, CDAB < <, BADC < >.
        pack_prefix = "<" if byte_order != word_order else ">"
        fmt, pos = ["<" if word_order == "little" else ">"], 0
        for m, off in pts:
            if off > pos:
                fmt.append(f"{2 * (off - pos)}x")
            fmt.append(_TYPES[m.data_type].code)
            pos = off + m.register_count
        if n > pos:
            fmt.append(f"{2 * (n - pos)}x")
        struct_format = "".join(fmt)
        return _Layout(
            "direct", struct_format, struct.Struct(f"{pack_prefix}{n}H").pack, _native(struct_format).unpack
        )
    struct_format = ">" + "".join(_TYPES[m.data_type].code for m, _ in pts)
    unpack = _native(struct_format).unpack
    perm: list[int] = []
    if len(byte_orders) == 1:
        # One byte order: gather the words in value order, and let the pack prefix swap bytes.
        for m, off in pts:
            idx = range(off, off + m.register_count)
            perm += reversed(idx) if m.word_order == "little" else idx
        prefix = "<" if byte_orders == {"little"} else ">"
        return _Layout(
            "permuted", struct_format, struct.Struct(f"{prefix}{len(perm)}H").pack, unpack, _getter(perm)
        )
    for m, off in pts:
        idx = range(off, off + m.register_count)
        for w in reversed(idx) if m.word_order == "little" else idx:
            perm += (2 * w + 1, 2 * w) if m.byte_order == "little" else (2 * w, 2 * w + 1)
    return _Layout("permuted", struct_format, struct.Struct(f">{n}H").pack, unpack, byte_getter=_getter(perm))


def _native(fmt: str) -> struct.Struct:
    """The Struct of ``fmt`` (``<`` or ``>``), in native mode (``@``) when that reads the same bytes the same way:
    the machine's byte order and no alignment padding (native float unpacking is ≈ 20 % faster)."""
    native = "<" if sys.byteorder == "little" else ">"
    body = fmt[1:]
    if fmt[:1] == native and struct.calcsize("@" + body) == struct.calcsize(fmt):
        return struct.Struct("@" + body)
    return struct.Struct(fmt)


def _getter(indices: list[int]) -> _Getter:
    """itemgetter that always returns a tuple (a bare itemgetter returns a scalar for one index)."""
    if len(indices) == 1:
        (i,) = indices
        return lambda seq: (seq[i],)
    return itemgetter(*indices)


def _expr(m: PointMapping, a: str) -> str:
    """The source of one point's post-unpack step on the unpacked raw value named ``a``: bool bit, mask/shift,
    scale/offset — the steps of :func:`decode`, with the point's constants written in (float repr round-trips)."""
    info = _TYPES[m.data_type]
    if info.kind == "bool":
        return f"({a} != 0)" if m.bit is None else f"({a} >> {m.bit} & 1 == 1)"
    raw = a
    if m.mask is not None or m.shift:
        raw = f"({a} & {m.mask})" if m.mask is not None else a
        raw = f"({raw} >> {m.shift})" if m.shift else raw
    if m.scale == 1.0 and m.offset == 0.0:
        return raw  # ints stay exact; a float times 1.0 plus -0.0 is itself
    if m.offset == 0.0:
        return f"({raw} * {m.scale!r})"  # decode adds -0.0, which changes no float (not even -0.0)
    return f"({raw} * {m.scale!r} + {m.offset!r})"


def _kernel(
    mappings: tuple[PointMapping, ...], n: int, plan: _Layout, top: tuple[int, int] | None = None
) -> Callable[[Sequence[int]], list[float]]:
    """The hot path, generated once per block plan: (gather words), pack, (gather bytes), one unpack into
    locals, then one list display with every point's transform written out (no per-point loop, zip or call).

    Finiteness (ST-DATA-018): with ``top`` (see :func:`_top_bytes`) the values' sign-and-exponent bytes are
    sliced out of the unpacked bytes and two byte searches prove every value finite; only a block where one of
    them is 0x7F/0xFF (a NaN, an infinity or a huge value) pays for the exact check, a sum of the values."""
    pack, unpack, word_getter, byte_getter = plan.pack, plan.unpack, plan.word_getter, plan.byte_getter
    kinds = [_TYPES[m.data_type].kind for m in mappings]
    check = any(
        k == "float" or m.scale != 1.0 or m.offset != 0.0 for k, m in zip(kinds, mappings, strict=True)
    )
    names = tuple(m.name or m.data_type for m in mappings)
    raws = [f"a{i}" for i in range(len(mappings))]
    words = "words" if word_getter is None else "word_getter(words)"
    lines = ["def run(words):"]
    if word_getter is not None:  # a gather accepts a longer list: check the length first
        lines += ["    if len(words) != n:", "        _bad_block(words, n, None)"]
    lines += [
        "    try:",
        f"        data = pack(*{words})",
        "    except struct.error as e:",
        "        _bad_block(words, n, e)",
    ]
    if byte_getter is not None:
        lines.append("    data = bytes(byte_getter(data))")
    if raws:
        lines.append(f"    ({', '.join(raws)},) = unpack(data)")
    lines.append(f"    out = [{', '.join(_expr(m, a) for m, a in zip(mappings, raws, strict=True))}]")
    if check:
        # inf - inf and nan - nan are nan: a finite difference proves every value finite.
        exact = ["total = sum(out)", "if total - total != 0.0:", "    _raise_non_finite(out, names)"]
        if top is None:
            lines += [f"    {line}" for line in exact]
        else:
            start, step = top
            lines += [f"    top = data[{start}::{step}]", "    if 127 in top or 255 in top:"]
            lines += [f"        {line}" for line in exact]
    lines.append("    return out")
    scope: dict[str, Any] = {
        "n": n, "pack": pack, "unpack": unpack, "word_getter": word_getter, "byte_getter": byte_getter,
        "names": names, "struct": struct, "_bad_block": _bad_block, "_raise_non_finite": _raise_non_finite,
    }  # fmt: skip
    exec(compile("\n".join(lines), f"<santong block decoder: {len(mappings)} points>", "exec"), scope)  # noqa: S102
    run: Callable[[Sequence[int]], list[float]] = scope["run"]
    return run


#: A float whose sign-and-exponent byte (the first of its big-endian bytes) is neither 0x7F nor 0xFF has an
#: exponent below its two highest values: float32 (exponent 0xFE, 0xFF) below 2**127, float64 (0x7F0 and up)
#: below 2**1009 — finite.
_TOP_BOUND: Final = {"f": (4, 2.0**127), "d": (8, 2.0**1009)}


def _top_bytes(struct_format: str, mappings: Sequence[PointMapping]) -> tuple[int, int] | None:
    """(start, step) of every value's sign-and-exponent byte in the unpacked bytes, when a byte search can prove
    the block finite: every point the same float type, back to back (no padding), and every transform bounded —
    |raw| * |scale| + |offset| stays far below the largest float for every raw value below the bound above.
    None otherwise (the kernel then sums the values)."""
    prefix, codes = struct_format[:1], struct_format[1:]
    if not codes or len(codes) != len(mappings) or len(set(codes)) != 1 or codes[0] not in _TOP_BOUND:
        return None
    size, bound = _TOP_BOUND[codes[0]]
    if any(abs(m.scale) * bound + abs(m.offset) >= 2.0**1020 for m in mappings):
        return None
    return (size - 1 if prefix == "<" else 0), size


def _bad_block(words: Sequence[int], n: int, error: struct.error | None) -> None:
    """Raise the MappingError for a block of the wrong length or with words outside 0..65535."""
    if len(words) != n:
        raise MappingError(
            f"寄存器块应为 {n} 个字，实际 {len(words)} 个",
            f"the register block must have {n} words, got {len(words)}",
        ) from error
    raise MappingError("寄存器值必须是 0..65535 的整数", "register words must be ints in 0..65535") from error


def _raise_non_finite(out: list[float], names: tuple[str, ...]) -> None:
    """Raise for the first non-finite value (return if the sum merely overflowed)."""
    for i, v in enumerate(out):
        if not math.isfinite(v):
            raise MappingError(
                f"第 {i} 个测点解码结果不是有限数（{v!r}）；不得上报 NaN/Inf",
                f"point #{i} decoded to a non-finite value ({v!r}); NaN/Inf must not be reported",
                point=names[i],
                clause_id=NON_FINITE_CLAUSE,
            )


def compile_decoder(
    mappings_with_offsets: Iterable[tuple[PointMapping, int]], *, block_length: int | None = None
) -> BlockDecoder:
    """Build a fast decoder for a register block from (mapping, register offset) pairs.

    Example::

        decoder = compile_decoder([(PointMapping(data_type="float32"), 2 * i) for i in range(50)])
        values = decoder(words)  # 100 words → 50 floats, one struct.unpack
    """
    return BlockDecoder(mappings_with_offsets, block_length)
