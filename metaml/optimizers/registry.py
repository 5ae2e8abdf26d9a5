"""Optimizers by name, as YAML and the API refer to them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from metaml.errors import OptimizerError, did_you_mean
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.space import Space

OptimizerFactory = Callable[..., Optimizer]
_REGISTRY: dict[str, OptimizerFactory] = {}
_BUILTINS_LOADED = False


def register(name: str, factory: OptimizerFactory) -> None:
    """Make ``factory(space, objectives, seed, **settings)`` available as ``name``."""
    _REGISTRY[name] = factory


def unregister(name: str) -> None:
    """Forget ``name`` (for tests that register an optimizer of their own)."""
    _REGISTRY.pop(name, None)


def available() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def parse_spec(spec: str | Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """(name, settings) from ``"random"`` or ``{"name": "hyperband", "eta": 3}``."""
    if spec is None:
        return "random", {}
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        settings = dict(spec)
        name = settings.pop("name", None)
        if not isinstance(name, str):
            raise OptimizerError(f"an optimizer mapping needs a 'name', got {dict(spec)!r}")
        return name, settings
    raise OptimizerError(f"an optimizer is a name or a mapping with a name, not {spec!r}")


def make_optimizer(
    spec: str | Mapping[str, Any] | Optimizer | None,
    space: Space,
    objectives: Sequence[Objective],
    seed: int = 0,
) -> Optimizer:
    """Build the optimizer a spec names; an unknown name or a wrong setting says what is allowed."""
    if isinstance(spec, Optimizer):
        return spec
    name, settings = parse_spec(spec)
    _load_builtins()
    if name not in _REGISTRY:
        raise OptimizerError(f"unknown optimizer {name!r}{did_you_mean(name, _REGISTRY)}; choose one of {', '.join(available())}")
    known = setting_names(_REGISTRY[name])
    if known is not None and (unknown := [k for k in settings if k not in known]):
        raise OptimizerError(
            f"optimizer {name!r}: unknown setting {unknown[0]!r}{did_you_mean(unknown[0], known)}; its settings are "
            f"{', '.join(known) or 'none'}"
        )
    try:
        return _REGISTRY[name](space, objectives, seed, **settings)
    except TypeError as exc:
        raise OptimizerError(f"optimizer {name!r}: {exc}") from None


def setting_names(factory: OptimizerFactory) -> list[str] | None:
    """The settings ``factory`` takes after (space, objectives, seed), or None when it takes any (``**settings``)."""
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params[3:] if p.kind in keyword]


def stored_settings(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A stored study's optimizer settings as this version reads them (``Optimizer.stored`` of its class)."""
    _load_builtins()
    stored = getattr(_REGISTRY.get(name), "stored", None)
    return stored(settings) if callable(stored) else dict(settings)


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from metaml.optimizers.asha import ASHA
    from metaml.optimizers.auto import Auto
    from metaml.optimizers.bo import BayesianOptimization
    from metaml.optimizers.freeze_thaw import FreezeThaw
    from metaml.optimizers.hyperband import Hyperband
    from metaml.optimizers.model_sampler import BOHB
    from metaml.optimizers.multiobjective import MOASHA, MOHB
    from metaml.optimizers.one_epoch import OneEpoch
    from metaml.optimizers.oneshot import OneShot
    from metaml.optimizers.pb2 import PB2
    from metaml.optimizers.pbt import PBT
    from metaml.optimizers.priorband import PriorBand
    from metaml.optimizers.random_search import RandomSearch
    from metaml.optimizers.successive_halving import SuccessiveHalving
    from metaml.optimizers.transfer import Transfer

    for factory in (
        RandomSearch, SuccessiveHalving, Hyperband, ASHA, PriorBand, BayesianOptimization, BOHB, MOASHA, MOHB, Auto,
        FreezeThaw, OneEpoch, OneShot, Transfer, PBT, PB2,
    ):
        register(factory.name, factory)
