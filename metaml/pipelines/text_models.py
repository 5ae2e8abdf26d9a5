"""The models of the text pipeline: a frozen prefix run once per example, the part that trains, the whole.

What trains is set by the ``adaptation`` choice:

- ``probe``: a linear head on the frozen encoder's pooled output (computed once, cached);
- ``top_k``: the top ``layers`` of the 6 encoder layers and the head, on the cached output
  of the layers below;
- ``lora``: low-rank adapters (``peft``) in the attention (``query``, ``value``) or in every
  linear layer, and the head; the encoder's own weights stay frozen;
- ``full``: every weight, embeddings included;
- ``prompt``: soft-prompt tuning (Lester et al. 2021): ``length`` trained vectors inserted
  after ``[CLS]``, initialized from the embeddings of random vocabulary words or at random,
  the whole encoder frozen (the gradient still flows through all its layers); with
  ``ensemble`` K > 1, K such prompts share the head, each text runs through the encoder
  once per prompt, and the prediction is the mean of the K passes' class probabilities.

``mixout`` (``metaml.pipelines.mixout``) mixes the trained layers' linear weights with their
pretrained values in training (``top_k`` and ``full`` only: the other adaptations leave the
encoder's weights frozen).

``TextNet`` is the part that trains (what the training loop, SWA and the checkpoints see);
``FrozenPrefix`` computes its inputs from token ids; ``Deployed`` joins the two into the
model one would ship, whose latency, size and parameters the cost metrics measure.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from metaml.pipelines import regularization as reg
from metaml.pipelines.base import PipelineError
from metaml.pipelines.mixout import apply_mixout
from metaml.pipelines.text_encoder import Encoder, pool, run_layers

ADAPTATIONS = ("probe", "top_k", "lora", "full", "prompt")
#: The modules LoRA adapts, by the ``adaptation.lora.modules`` choice (BERT's names).
LORA_TARGETS = {"attention": ["query", "value"], "all": ["query", "key", "value", "dense"]}


def first_trained_layer(config: Mapping[str, Any], n_layers: int) -> int:
    """The index of the lowest encoder layer that trains (``n_layers`` when none does: the probe)."""
    adaptation = config["adaptation"]
    if adaptation == "probe":
        return n_layers
    if adaptation == "top_k":
        return n_layers - int(config["adaptation.top_k.layers"])
    return 0


def uses_tokens(config: Mapping[str, Any]) -> bool:
    """Whether the trained part reads token ids (LoRA, full) rather than cached hidden states."""
    return config["adaptation"] in ("lora", "full", "prompt")


class FrozenPrefix(nn.Module):
    """The encoder's embeddings and lowest layers, frozen: token ids in, the trained part's inputs out.

    Its output for a text never changes, so the pipeline computes it once per example and
    caches it; it stays in eval mode (no dropout) whatever its owner asks.
    """

    def __init__(self, encoder: Encoder, start: int, pooling: str | None) -> None:
        super().__init__()
        self.embeddings = encoder.embeddings
        self.layers = nn.ModuleList(encoder.layers[:start])
        self.pooling = pooling
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenPrefix:
        return super().train(False)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        hidden = run_layers(list(self.layers), self.embeddings(input_ids=ids), mask)
        if self.pooling is not None:  # nothing above trains: the pooled vector is all the head needs
            return (pool(hidden, mask, self.pooling),)
        return hidden, mask


class TextNet(nn.Module):
    """The layers that train (copies of the encoder's), pooling, dropout and the new classification head."""

    def __init__(self, encoder: Encoder, config: Mapping[str, Any], n_classes: int) -> None:
        super().__init__()
        self.adaptation = str(config["adaptation"])
        self.pooling = str(config["pooling"])
        start = first_trained_layer(config, len(encoder.layers))
        self.embeddings = copy.deepcopy(encoder.embeddings) if uses_tokens(config) else None
        self.layers = nn.ModuleList(copy.deepcopy(layer) for layer in encoder.layers[start:])
        rate = float(config["dropout.enabled.rate"]) if config["dropout"] == "enabled" else 0.0
        for module in self.modules():  # the encoder's own dropout follows the choice too
            if isinstance(module, nn.Dropout):
                module.p = rate
        self.dropout = nn.Dropout(rate)
        self.classifier = nn.Linear(encoder.hidden, n_classes)
        self.requires_grad_(True)
        self.prompt: nn.Parameter | None = None
        # the ensemble's other prompts: empty for one, so that a single prompt's state dict stays as it was
        self.more_prompts = nn.ParameterList()
        if self.adaptation == "lora":
            self._add_lora(config, encoder.hidden)
        elif self.adaptation == "prompt":
            self._add_prompt(config)
        if self.adaptation in ("top_k", "full") and config.get("mixout") == "enabled":
            apply_mixout(self.layers, float(config["mixout.enabled.p"]))

    def _add_prompt(self, config: Mapping[str, Any]) -> None:
        assert self.embeddings is not None
        length = int(config["adaptation.prompt.length"])
        table = self.embeddings.word_embeddings
        assert isinstance(table, nn.Embedding)
        words = table.weight.detach()
        vocab, width = int(words.shape[0]), int(words.shape[1])
        inits = []
        # drawn one after the other, so that the first prompt is the one a single prompt would be
        for _ in range(int(config.get("adaptation.prompt.ensemble", 1))):
            if config["adaptation.prompt.init"] == "vocabulary":  # real words' embeddings; ids past the special tokens
                inits.append(words[torch.randint(1000 if vocab > 2000 else 3, vocab, (length,))].clone())
            else:
                inits.append(torch.randn(length, width) * float(words.std()))
        self.requires_grad_(False)
        self.prompt = nn.Parameter(inits[0])
        self.more_prompts.extend(nn.Parameter(init) for init in inits[1:])
        self.classifier.requires_grad_(True)

    @property
    def prompts(self) -> list[nn.Parameter]:
        """Every soft prompt of the ensemble (none without prompt tuning, one without ensembling)."""
        return [] if self.prompt is None else [self.prompt, *self.more_prompts]

    def _add_lora(self, config: Mapping[str, Any], hidden: int) -> None:
        rank = int(config["adaptation.lora.rank"])
        if rank > hidden:
            raise PipelineError(f"LoRA rank {rank} is larger than the encoder's layers ({hidden} wide)")
        try:
            from peft import LoraConfig, inject_adapter_in_model
        except ImportError:
            raise PipelineError("adaptation: lora needs the package 'peft': pip install 'metaml[text]'") from None
        lora = LoraConfig(r=rank, lora_alpha=int(config["adaptation.lora.alpha"]),
                          lora_dropout=float(config["adaptation.lora.dropout"]),
                          target_modules=LORA_TARGETS[str(config["adaptation.lora.modules"])])  # fmt: skip
        self.requires_grad_(False)
        inject_adapter_in_model(lora, self.layers)  # in place
        for name, param in self.layers.named_parameters():
            param.requires_grad_("lora_" in name)
        self.classifier.requires_grad_(True)

    def embed(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The pooled representation (after dropout) that the head classifies and mixup mixes.

        ``[n, d]``; ``[n, K, d]`` for an ensemble of K prompts, one pass through the encoder each.
        """
        if self.adaptation == "probe":
            return self.dropout(inputs[0])
        first, mask = inputs
        hidden = self.embeddings(input_ids=first) if self.embeddings is not None else first
        if not self.more_prompts:
            return self._pass(hidden, mask, self.prompt)
        return torch.stack([self._pass(hidden, mask, prompt) for prompt in self.prompts], dim=1)

    def _pass(self, hidden: torch.Tensor, mask: torch.Tensor, prompt: torch.Tensor | None) -> torch.Tensor:
        if prompt is not None:  # after [CLS], so that CLS pooling still reads the first position
            rows = prompt.unsqueeze(0).expand(hidden.shape[0], -1, -1)
            hidden = torch.cat([hidden[:, :1], rows, hidden[:, 1:]], dim=1)
            mask = torch.cat([mask[:, :1], torch.ones_like(mask[:, :1]).expand(-1, rows.shape[1]), mask[:, 1:]], 1)
        hidden = run_layers(list(self.layers), hidden, mask)
        return self.dropout(pool(hidden, mask, self.pooling))

    def head(self, z: torch.Tensor) -> torch.Tensor:
        """Logits ``[n, classes]``; for a prompt ensemble the log of its members' mean probabilities.

        Log-probabilities are logits whose softmax is the mean itself: the loss trains the
        ensemble's own prediction, and prediction, mixup and label smoothing need nothing new.
        """
        logits = self.classifier(z)
        if z.ndim == 2:
            return logits
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=1) - math.log(z.shape[1])

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(*inputs))


class Deployed(nn.Module):
    """The model one would ship: the frozen prefix and the trained part, from token ids to logits."""

    def __init__(self, prefix: FrozenPrefix | None, net: nn.Module) -> None:
        super().__init__()
        self.prefix = prefix
        self.net = net

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        inputs = self.prefix(ids, mask) if self.prefix is not None else (ids, mask)
        return self.net(*inputs)  # type: ignore[no-any-return]


def parameter_groups(net: TextNet, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The optimizer's groups: the head at ``lr``, the encoder at its own rate, decayed layer by layer.

    Layer-wise learning-rate decay (Howard & Ruder 2018; Clark et al. 2020): the top trained
    layer learns at the backbone rate, each one below at ``layer_decay`` times the one above,
    the embeddings below them all. ``lr_scale`` is each group's rate relative to ``lr``: the
    schedule multiplies it in at every step. Biases and norms take no weight decay.
    """
    lr = float(config["lr"])
    adaptation = net.adaptation
    backbone = float(config.get(f"adaptation.{adaptation}.lr", lr)) / lr
    decay = float(config.get(f"adaptation.{adaptation}.layer_decay", 1.0))
    wd = reg.weight_decay(config)
    depth = len(net.layers)
    blocks: list[tuple[nn.Module | nn.Parameter | None, float]] = [(net.classifier, 1.0), (net.prompt, backbone),
                                                                   (net.more_prompts, backbone)]  # fmt: skip
    blocks += [(layer, backbone * decay ** (depth - 1 - i)) for i, layer in enumerate(net.layers)]
    blocks.append((net.embeddings, backbone * decay**depth))
    groups = []
    for module, scale in blocks:
        if module is None:
            continue
        found = [module] if isinstance(module, nn.Parameter) else list(module.parameters())
        params = [p for p in found if p.requires_grad]
        for decayed in (True, False):
            chosen = [p for p in params if (p.ndim >= 2) == decayed]
            if chosen:
                # a soft prompt is a set of word vectors: no weight decay pulls it to 0
                no_decay = not decayed or module is net.prompt or module is net.more_prompts
                groups.append({"params": chosen, "lr": lr * scale, "lr_scale": scale,
                               "weight_decay": 0.0 if no_decay else wd})  # fmt: skip
    return groups
