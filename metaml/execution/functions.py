"""How a worker finds the training function: by name (``module:function``) or as a pickle.

A worker process (local, Ray, or ``metaml worker`` on another machine) gets a
``FunctionRef``, never the function itself: a name is imported where the worker runs (from
the study file's folder first), a pickle is loaded there.
"""

from __future__ import annotations

import importlib
import pickle
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaml.errors import MetamlError, StudyFileError

TrialFunction = Callable[..., Mapping[str, Any]]


@dataclass(frozen=True)
class FunctionRef:
    """How a worker process finds the training function: ``module:function`` or a pickle of it."""

    spec: str | None = None
    base_dir: str | None = None
    pickled: bytes | None = None

    @classmethod
    def of(cls, fn: TrialFunction) -> FunctionRef:
        try:
            return cls(pickled=pickle.dumps(fn))
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise MetamlError(
                f"the training function {getattr(fn, '__qualname__', fn)!r} cannot be sent to worker processes "
                f"({exc}): define it at the top level of a module"
            ) from None

    def load(self) -> TrialFunction:
        if self.spec is not None:
            return import_function(self.spec, Path(self.base_dir) if self.base_dir else None)
        assert self.pickled is not None
        fn: TrialFunction = pickle.loads(self.pickled)
        return fn


def import_function(spec: str, base_dir: Path | None = None, where: str = "") -> Callable[..., Mapping[str, Any]]:
    """Import ``module:function``, looking in ``base_dir`` (the YAML's folder) and the working folder."""
    module_name, _, func_name = spec.partition(":")
    prefix = f"{where}: " if where else ""
    if not module_name or not func_name:
        raise StudyFileError(f"{prefix}write the function as module:function, got {spec!r}")
    search = [str(p) for p in (base_dir, Path.cwd()) if p is not None]
    for entry in reversed(search):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise StudyFileError(
                f"{prefix}cannot import the module {module_name!r} (looked in {', '.join(search)} and the "
                "installed packages): check the name, or run from the folder that holds it"
            ) from None
        raise StudyFileError(f"{prefix}importing {module_name!r} failed: {exc}") from None
    except Exception as exc:
        raise StudyFileError(f"{prefix}importing {module_name!r} raised {type(exc).__name__}: {exc}") from None
    fn = getattr(module, func_name, None)
    if fn is None or not callable(fn):
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise StudyFileError(
            f"{prefix}the module {module_name!r} has no function {func_name!r} (it has: {', '.join(public) or 'none'})"
        )
    return fn  # type: ignore[no-any-return]
