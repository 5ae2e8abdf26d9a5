"""The curve network: observed points in, a Gaussian over the final log loss of each query out."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.curve_pfn.prior import D_MAX, OWN, own_curve

#: Where ``train`` writes the weights and ``compare`` and ``search`` read them, by default.
WEIGHTS = Path(".benchmarks-cache/curve-pfn.pt")


def make_network(d_model: int = 96, layers: int = 4, heads: int = 4, ff: int = 192) -> Any:
    """A transformer whose context points attend to each other and whose queries attend to the context only."""
    import torch
    from torch import nn

    class CurveNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            F = D_MAX + 1
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


def nll(mean: Any, log_sd: Any, y: Any, present: Any) -> Any:
    """Mean Gaussian negative log likelihood of the present queries, each capped at 20 (a rare wild answer early in
    training otherwise dominates the step)."""
    return (log_sd + 0.5 * ((y - mean) / log_sd.exp()) ** 2).clamp(max=20.0)[present].mean()


@cache
def load_network(path: str) -> Any:
    """The network with the weights ``train`` wrote at ``path``, ready to answer (read once per process)."""
    import torch

    net = make_network()
    net.load_state_dict(torch.load(path))
    return net.eval()


def answer(net: Any, context_x: np.ndarray, context_y: np.ndarray, configs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's (mean, standard deviation) of the final log loss of each encoded configuration in ``configs``
    (m x d), given curve points ``context_x`` (n x (d + 1): the configuration and the log-scaled step) and their log
    losses ``context_y``; a configuration with points in the context is asked with its own curve."""
    import torch

    d = configs.shape[1]
    curves: dict[bytes, list[tuple[float, float]]] = {}
    for x, y in zip(context_x, context_y):
        curves.setdefault(x[:d].tobytes(), []).append((float(x[-1]), float(y)))
    queries = []
    for x in configs:
        points = sorted(curves.get(x.tobytes(), []))
        z, y = np.array([p[0] for p in points]), np.array([p[1] for p in points])
        queries.append(np.r_[x, np.zeros(D_MAX - d), 1.0, own_curve(z, y, len(points))])
    context = np.concatenate([context_x[:, :d], np.zeros((len(context_x), D_MAX - d)), context_x[:, -1:]], axis=1)

    def tensor(a: np.ndarray) -> Any:
        return torch.as_tensor(a, dtype=torch.float32)[None]

    with torch.no_grad():
        mean, log_sd = net(tensor(context), tensor(np.asarray(context_y, dtype=float)),
                           torch.zeros(1, len(context), dtype=torch.bool), tensor(np.stack(queries)))
    return mean[0].numpy().astype(float), log_sd[0].exp().numpy().astype(float)
