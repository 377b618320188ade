"""The E5S1 reader and the charsmap builder, on small files and tables the tests write themselves."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from core.encoding.e5.charsmap import build_precompiled_charsmap
from core.encoding.e5.reader import E5File, dequantize_q4_0
from tests.e5_files import E5Spec, Q4Tensor, dense, pack, tiny_model_spec, write


@pytest.fixture
def spec() -> E5Spec:
    return tiny_model_spec(seed=1)


@pytest.fixture
def e5_path(tmp_path, spec):
    return write(tmp_path / "tiny.bin", spec)


def test_header_fields(e5_path, spec):
    with E5File(e5_path) as e5:
        h = e5.header
        assert (h.version, h.hidden_size, h.num_layers, h.num_heads, h.ffn_size) == (1, 32, 2, 4, 64)
        assert (h.vocab_size, h.max_positions, h.type_vocab_size, h.block_size) == (spec.vocab_rows, 64, 2, 32)
        assert h.layer_norm_eps == pytest.approx(1e-12)


def test_pieces_scores_specials_and_normalisation(e5_path, spec):
    with E5File(e5_path) as e5:
        v = e5.vocab
        assert v.pieces == spec.pieces
        np.testing.assert_array_equal(v.scores, np.asarray(spec.scores, np.float32))
        assert (v.bos, v.eos, v.pad, v.unk) == (0, 2, 1, 3)
        assert v.normalization == spec.normalization
        assert v.normalization[0xFB01] == "fi" and v.normalization[0x01] == ""


def test_tensor_directory(e5_path, spec):
    data = e5_path.read_bytes()
    with E5File(e5_path) as e5:
        assert list(e5.tensors) == list(spec.tensors)
        word = e5.tensors["emb.word"]
        assert (word.dtype, word.count, word.nbytes) == (1, spec.vocab_rows * 32, spec.vocab_rows * 18)
        pos = e5.tensors["emb.pos"]
        assert (pos.dtype, pos.count, pos.nbytes) == (0, 64 * 32, 64 * 32 * 4)
        # Offsets point at the data the writer put there.
        assert data[word.offset: word.offset + word.nbytes] == spec.tensors["emb.word"].pack()
        assert data[pos.offset: pos.offset + pos.nbytes] == np.asarray(spec.tensors["emb.pos"], "<f4").tobytes()


def test_float32_tensors_come_back_unchanged(e5_path, spec):
    with E5File(e5_path) as e5:
        for name, tensor in spec.tensors.items():
            if not isinstance(tensor, Q4Tensor):
                np.testing.assert_array_equal(e5.tensor(name), tensor)


def test_q4_0_dequantises_exactly(e5_path, spec):
    with E5File(e5_path) as e5:
        for name, tensor in spec.tensors.items():
            if isinstance(tensor, Q4Tensor):
                out = e5.tensor(name)
                assert out.dtype == np.float32
                np.testing.assert_array_equal(out, tensor.values())


def test_q4_0_nibble_order_and_sign():
    """Byte j holds weight j in its low nibble and weight j + 16 in its high nibble; weight = (q - 8) * d."""
    nibbles = np.array([0, 1, 7, 8, 9, 15] + [8] * 10 + [15, 0] + [8] * 14, np.uint8)
    block = Q4Tensor(np.array([0.5], np.float16), nibbles)
    out = dequantize_q4_0(block.pack())
    assert out[:6].tolist() == [-4.0, -3.5, -0.5, 0.0, 0.5, 3.5]
    assert out[16:18].tolist() == [3.5, -4.0]
    # A subnormal float16 scale widens exactly too.
    tiny = Q4Tensor(np.array([np.float16(2.0 ** -20)], np.float16), np.full(32, 15, np.uint8))
    assert dequantize_q4_0(tiny.pack()).tolist() == [7 * 2.0 ** -20] * 32


def test_chunks_join_to_the_whole_tensor(e5_path, spec):
    with E5File(e5_path) as e5:
        for name in ("emb.word", "emb.pos", "l0.fi.w"):
            chunks = list(e5.iter_chunks(name, max_values=100))
            assert len(chunks) > 1 and all(c.size <= 100 for c in chunks)
            np.testing.assert_array_equal(np.concatenate(chunks), dense(spec, name))


def test_unknown_tensor_name(e5_path):
    with E5File(e5_path) as e5, pytest.raises(KeyError, match="no tensor 'nope'"):
        e5.tensor("nope")


def test_bad_magic(tmp_path, spec):
    path = tmp_path / "bad.bin"
    path.write_bytes(b"GGUF" + pack(spec)[4:])
    with pytest.raises(ValueError, match=r"bad magic b'GGUF' at offset 0"):
        E5File(path)


@pytest.mark.parametrize("where", ["magic", "header", "offsets", "blob", "normalisation", "directory", "data"])
def test_truncated_files_name_the_field(tmp_path, spec, where):
    data = pack(spec)
    n = len(spec.pieces)
    blob_len = len("".join(spec.pieces).encode())
    header_end = 4 + 8 * 4 + 8
    vocab_start = header_end + 5 * 4 + 8
    norm_start = vocab_start + 4 * (n + 1) + 4 * n + blob_len
    table_len = sum(5 + 4 * len(out) for out in spec.normalization.values())
    directory_start = norm_start + 8 + table_len
    with E5File(write(tmp_path / "full.bin", spec)) as e5:
        last = max(e5.tensors.values(), key=lambda t: t.offset)
    cut, expected = {
        "magic": (3, "not even the magic"),
        "header": (20, "header"),
        "offsets": (vocab_start + 10, "piece offsets"),
        "blob": (norm_start - 3, "piece blob"),
        "normalisation": (norm_start + 12, "normalisation"),
        "directory": (directory_start + 9, "tensor 0"),
        "data": (last.offset + last.nbytes - 1, "runs past the end of the file"),
    }[where]
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match=expected) as error:
        E5File(path)
    assert "truncated" in str(error.value)


def test_wrong_version_and_block_size(tmp_path, spec):
    spec.version = 2
    with pytest.raises(ValueError, match="E5S1 version 2 at offset 4"):
        E5File(write(tmp_path / "v2.bin", spec))
    spec.version, spec.block = 1, 64
    with pytest.raises(ValueError, match="block_size is 64"):
        E5File(write(tmp_path / "b64.bin", spec))


def test_special_ids_out_of_range(tmp_path, spec):
    spec.unk = len(spec.pieces)
    with pytest.raises(ValueError, match=f"field unk is {len(spec.pieces)}"):
        E5File(write(tmp_path / "unk.bin", spec))


def test_bad_tensor_entries(tmp_path):
    spec = E5Spec(pieces=["<s>", "<pad>", "</s>", "<unk>"], scores=[0.0] * 4,
                  tensors={"w": np.zeros(32, np.float32)})
    data = bytearray(pack(spec))
    dtype_at = data.index(b"\x01\x00w") + 3  # name length 1, name "w", then the dtype byte
    data[dtype_at] = 7
    path = tmp_path / "dtype.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"tensor 0 \('w'\): unknown dtype 7"):
        E5File(path)
    data[dtype_at] = 1  # now claims Q4_0 with float32's byte count
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"Q4_0 x 32 needs 18 bytes, directory says 128"):
        E5File(path)


def test_unsorted_normalisation_table(tmp_path):
    spec = E5Spec(pieces=["<s>", "<pad>", "</s>", "<unk>"], scores=[0.0] * 4)
    data = pack(spec)
    table = struct.pack("<IB", 0x41, 0) + struct.pack("<IB", 0x20, 0)
    at = 72 + 4 * 5 + 4 * 4 + len("<s><pad></s><unk>")  # header, offsets, scores, blob
    assert data[at: at + 8] == struct.pack("<iI", 0, 0)
    path = tmp_path / "unsorted.bin"
    path.write_bytes(data[:at] + struct.pack("<iI", 2, len(table)) + table + data[at + 8:])
    with pytest.raises(ValueError, match=r"normalisation entry 1 .*U\+0020 is not above the previous U\+0041"):
        E5File(path)


# -- the charsmap that carries the normalisation table into tokenizers ---------------------------------


def test_precompiled_charsmap_applies_the_table():
    from tokenizers import normalizers

    table = {0x01: "", 0x09: " ", 0xA0: " ", 0x2581: " ", 0xFB01: "fi", 0xFF21: "A", 0x1D400: "A",
             0x2163: "IV", 0x3000: " "}
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(table))
    for code_point, replacement in table.items():
        assert normalizer.normalize_str(chr(code_point)) == replacement, hex(code_point)
    # Everything else passes through, Cyrillic included.
    text = "Привет, мир! Ёлка й 1967 year"
    assert normalizer.normalize_str(text) == text
    assert normalizer.normalize_str("a\u00a0b\x01c\ufb01") == "a bcfi"


def test_precompiled_charsmap_on_a_large_table():
    """Thousands of keys of every UTF-8 length still build into a valid trie."""
    from tokenizers import normalizers

    rng = np.random.default_rng(0)
    keys = sorted(set(rng.integers(0x80, 0x2FFFF, 3000).tolist()) - set(range(0xD800, 0xE000)))
    table = {k: chr(0x41 + k % 26) * (k % 3) for k in keys}
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(table))
    assert [normalizer.normalize_str(chr(k)) for k in keys] == [table[k] for k in keys]
