"""The curve network: observed points in, a Gaussian over the final log loss of each query out."""

from __future__ import annotations

from typing import Any

from benchmarks.curve_pfn.prior import D_MAX, OWN


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
