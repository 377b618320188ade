"""Build random DeBERTa-v1 models with USER-base's config flags, offline.

The hub cannot be reached here, so tests and benchmarks make their own models: a byte-level BPE
tokenizer trained on Russian sentences and a randomly initialised ``DebertaModel`` with
``relative_attention=False``, ``position_biased_input=True`` and ``type_vocab_size=0``, exactly
as deepvk/USER-base is configured. Speed does not depend on the weights, so the full-size model
stands in for USER-base in benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

SEED_SENTENCES = [
    "Когда был спущен на воду первый миноносец «Спокойный»?",
    "Есть ли нефть в Удмуртии?",
    "Спокойный (эсминец)\nЗачислен в списки ВМФ СССР 19 августа 1952 года.",
    "Нефтепоисковые работы в Удмуртии были начаты сразу после Второй мировой войны в 1945 году.",
    "Добыча нефти началась в 1967 году и продолжается по сей день.",
    "Москва — столица России, крупнейший по численности населения город страны.",
    "Сегодня в Санкт-Петербурге идёт дождь, а завтра обещают солнце.",
    "Кошка спит на подоконнике, пока собака гуляет во дворе.",
    "Как приготовить борщ со сметаной и чесноком?",
    "Поезд из Новосибирска прибывает на Казанский вокзал в девять утра.",
    "Учёные открыли новый вид бабочек в тайге Красноярского края.",
    "Футбольный клуб выиграл кубок страны после серии пенальти.",
    "Курс рубля к доллару снизился на открытии торгов на бирже.",
    "Врач посоветовал пить больше воды и меньше кофе.",
    "Студенты сдают экзамены по математике и физике в конце января.",
    "Какая погода будет в выходные в Казани?",
    "Напомни мне купить молоко и хлеб по дороге домой.",
    "Включи, пожалуйста, спокойную музыку в гостиной.",
    "Сколько стоит билет на самолёт до Владивостока?",
    "Новая версия приложения работает быстрее и потребляет меньше памяти.",
]


def russian_corpus(n: int = 400) -> list[str]:
    """A deterministic corpus of a few hundred Russian sentences for tokenizer training."""
    out = []
    for i in range(n):
        a = SEED_SENTENCES[i % len(SEED_SENTENCES)]
        b = SEED_SENTENCES[(i * 7 + 3) % len(SEED_SENTENCES)]
        out.append(a if i % 3 else f"{a} {b}")
    return out


def train_tokenizer(corpus: list[str], vocab_size: int = 2000):
    """Train a RoBERTa-style byte-level BPE tokenizer, as DeBERTa-v1 uses."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        corpus,
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"],
    )
    return RobertaTokenizerFast(
        tokenizer_object=bpe,
        bos_token="[CLS]",
        eos_token="[SEP]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        unk_token="[UNK]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def build_deberta(
    path: str | Path,
    *,
    full_size: bool = False,
    corpus: list[str] | None = None,
    sentence_transformers_layout: bool = False,
    seed: int = 0,
) -> Path:
    """Save a random DeBERTa-v1 with USER-base's flags (tiny, or USER-base's full shape) to ``path``."""
    from transformers import DebertaConfig, DebertaModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus or russian_corpus(), vocab_size=8000 if full_size else 2000)
    shape = (
        dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
             vocab_size=50265)
        if full_size
        else dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  vocab_size=len(tokenizer))
    )
    config = DebertaConfig(
        **shape,
        max_position_embeddings=512,
        relative_attention=False,
        position_biased_input=True,
        type_vocab_size=0,
        pos_att_type=None,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = DebertaModel(config).eval()
    # Random q/v biases (zero at init) so tests exercise the bias terms of the attention.
    with torch.no_grad():
        for layer in model.encoder.layer:
            layer.attention.self.q_bias.normal_(0, 0.02)
            layer.attention.self.v_bias.normal_(0, 0.02)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    if sentence_transformers_layout:
        write_sentence_transformers_files(path, dim=config.hidden_size)
    return path


def write_sentence_transformers_files(path: Path, *, dim: int, max_seq_length: int = 512) -> None:
    """Add the files sentence-transformers reads, with USER-base's prompts."""
    (path / "1_Pooling").mkdir(exist_ok=True)
    (path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]))
    (path / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}))
    (path / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": "query",
        "similarity_fn_name": "cosine",
    }))
    (path / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }))
