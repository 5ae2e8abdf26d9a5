"""``freeze_thaw``'s ``curve_network``: a transformer pretrained offline on synthetic freeze-thaw studies.

Early in a search the curve GP has few, short curves and is often flat, which is where it makes its
first full-fidelity choice. This network (in the style of ifBO's FT-PFN, Rakotoarison et al. 2024,
whose own weights are downloaded at run time and so cannot be used here) was trained only on curves
this project generates (``benchmarks/curve_pfn``: the prior, the training command, the measurements)
and answers, from the observed points, a Gaussian over each candidate's final log loss. Until a run
reaches the full fidelity, ``freeze_thaw`` joins that answer with the GP's by their precisions; after
it, the GP decides alone (docs/benchmarks.md, "A curve model pretrained on synthetic curves").
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from metaml.optimizers.freeze_thaw_model import CurveModel

#: The width of a new network: configurations of at most this many encoded dimensions (a network's own width is
#: ``net.d_max``, read from its weights; freeze_thaw refuses curve_network for a space wider than the network).
D_MAX = 32
#: Extra query columns: [has a curve, its last log loss, the step of that point, the slope over its last two].
OWN = 4
#: The weights shipped with metaml (``python -m benchmarks.curve_pfn train --minutes 30``: 8,054 steps of 16
#: synthetic studies on 2 CPU cores, final NLL -0.98; 12 dimensions wide). Weights trained longer or widened to 32
#: were measured no better on the search (docs/benchmarks.md) and are not shipped.
SHIPPED = "curve_network.pt"


def own_curve(z: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """What a query knows of its own curve (``OWN`` columns): its first ``n`` points ``(z, y)``, or zeros."""
    if n == 0:
        return np.zeros(OWN)
    slope = (y[n - 1] - y[n - 2]) / max(float(z[n - 1] - z[n - 2]), 1e-3) if n >= 2 else 0.0
    return np.array([1.0, y[n - 1], z[n - 1], slope])


def make_network(d_max: int = D_MAX, d_model: int = 96, layers: int = 4, heads: int = 4, ff: int = 192) -> Any:
    """A transformer whose context points attend to each other and whose queries attend to the context only; it
    reads configurations of up to ``d_max`` encoded dimensions, zero-padded."""
    import torch
    from torch import nn

    class CurveNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.d_max = d_max
            F = d_max + 1
            self.context_in = nn.Sequential(nn.Linear(F + 1, d_model), nn.GELU(), nn.Linear(d_model, d_model))
            self.query_in = nn.Sequential(nn.Linear(F + OWN, d_model), nn.GELU(), nn.Linear(d_model, d_model))
            layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout=0.0, batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.out = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, 2))

        def forward(self, Xc: Any, yc: Any, pad: Any, Xq: Any) -> tuple[Any, Any]:
            """(mean, log standard deviation) of each query's log loss; the values are standardized by the context
            (its standard deviation at least 0.3, so that a near-flat context does not blow answers up)."""
            valid = (~pad).float()
            n = valid.sum(1, keepdim=True).clamp(min=1)
            m = (yc * valid).sum(1, keepdim=True) / n
            sd = (((yc - m) ** 2 * valid).sum(1, keepdim=True) / n).sqrt().clamp(min=0.3)
            hc = self.context_in(torch.cat([Xc, ((yc - m) / sd).unsqueeze(-1)], -1))
            has = Xq[..., -4:-3]
            last = (Xq[..., -3:-2] - m.unsqueeze(-1)) / sd.unsqueeze(-1) * has
            slope = (Xq[..., -1:] / sd.unsqueeze(-1) / 10.0).clamp(-5, 5) * has
            hq = self.query_in(torch.cat([Xq[..., :-3], last, Xq[..., -2:-1], slope], -1))
            nc, nq = Xc.shape[1], Xq.shape[1]
            mask = torch.zeros(nc + nq, nc + nq, dtype=torch.bool)
            mask[:, nc:] = True  # nothing attends to a query but the query itself
            own = torch.arange(nc, nc + nq)
            mask[own, own] = False
            padding = torch.cat([pad, torch.zeros(Xq.shape[0], nq, dtype=torch.bool)], 1)
            h = self.encoder(torch.cat([hc, hq], 1), mask=mask, src_key_padding_mask=padding)
            o = self.out(h[:, nc:])
            return o[..., 0] * sd + m, o[..., 1] + torch.log(sd)

    return CurveNetwork()


@cache
def load_network(path: str | None = None) -> Any:
    """The network with the weights at ``path`` (default: the shipped ones), ready to answer (read once per process)."""
    import torch

    if path is None:
        with resources.as_file(resources.files("metaml.optimizers") / SHIPPED) as shipped:
            state = torch.load(shipped, weights_only=True)
    else:
        state = torch.load(path, weights_only=True)
    net = make_network(width(state))
    net.load_state_dict(state)
    return net.eval()


def width(state: dict[str, Any]) -> int:
    """The ``d_max`` of the network whose weights are ``state`` (its context input: configuration, step, loss)."""
    return int(state["context_in.0.weight"].shape[1]) - 2


def widened(state: dict[str, Any], d_max: int) -> dict[str, Any]:
    """Weights ``state`` made to read ``d_max`` dimensions: the input layers get zero weights for the new ones,
    so the network answers as before until it is trained on wider configurations."""
    import torch

    old = width(state)
    if d_max < old:
        raise ValueError(f"a network of width {old} cannot be narrowed to {d_max}")
    state = dict(state)
    for key in ("context_in.0.weight", "query_in.0.weight"):
        w = state[key]
        state[key] = torch.cat([w[:, :old], w.new_zeros(w.shape[0], d_max - old), w[:, old:]], 1)
    return state


def answer(net: Any, context_x: np.ndarray, context_y: np.ndarray, configs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's (mean, standard deviation) of the final log loss of each encoded configuration in ``configs``
    (m x d), given curve points ``context_x`` (n x (d + 1): the configuration and the log-scaled step) and their log
    losses ``context_y``; a configuration with points in the context is asked with its own curve."""
    import torch

    d, d_max = configs.shape[1], net.d_max
    curves: dict[bytes, list[tuple[float, float]]] = {}
    for x, y in zip(context_x, context_y):
        curves.setdefault(x[:d].tobytes(), []).append((float(x[-1]), float(y)))
    queries = []
    for x in configs:
        points = sorted(curves.get(x.tobytes(), []))
        z, y = np.array([p[0] for p in points]), np.array([p[1] for p in points])
        queries.append(np.r_[x, np.zeros(d_max - d), 1.0, own_curve(z, y, len(points))])
    context = np.concatenate([context_x[:, :d], np.zeros((len(context_x), d_max - d)), context_x[:, -1:]], axis=1)

    def tensor(a: np.ndarray) -> Any:
        return torch.as_tensor(a, dtype=torch.float32)[None]

    with torch.no_grad():
        mean, log_sd = net(tensor(context), tensor(np.asarray(context_y, dtype=float)),
                           torch.zeros(1, len(context), dtype=torch.bool), tensor(np.stack(queries)))
    return mean[0].numpy().astype(float), log_sd[0].exp().numpy().astype(float)


def join(mean: np.ndarray, std: np.ndarray, other: np.ndarray, other_std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent Gaussian estimates joined by their precisions."""
    p1, p2 = 1.0 / np.maximum(std, 1e-9) ** 2, 1.0 / np.maximum(other_std, 1e-9) ** 2
    return (p1 * mean + p2 * other) / (p1 + p2), 1.0 / np.sqrt(p1 + p2)


class Joined(CurveModel):
    """A curve model whose predictions at the full fidelity are joined with the network's; the rest are the GP's."""

    def __init__(self, model: CurveModel, net: Any) -> None:  # the GP is the fitted model's, not refitted
        self.model, self.net = model, net
        self.rows, self.values, self.gp = model.rows, model.values, model.gp

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = self.model.predict(X)
        full = np.flatnonzero(X[:, -1] >= 1.0 - 1e-9)
        if not len(full) or X.shape[1] - 1 > self.net.d_max or self.rows.n == 0:
            return mean, std
        net_mean, net_std = self.network(X[full, :-1])
        mean, std = mean.copy(), std.copy()
        mean[full], std[full] = join(mean[full], std[full], net_mean, net_std)
        return mean, std

    def network(self, configs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's answer for the encoded ``configs``, given the rows the GP was fitted to."""
        return answer(self.net, self.rows.X, self.rows.y[:, 0], configs)
