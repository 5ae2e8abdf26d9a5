"""What every import shares: checking the trials against the space, then writing one study, all or nothing."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metaml._version import __version__
from metaml.core.metadata import StudyMetadata
from metaml.core.records import ImportedTrial
from metaml.errors import StoreError
from metaml.objectives import Objective
from metaml.space import Space
from metaml.store import SQLStore, open_store
from metaml.study import Study

log = logging.getLogger(__name__)

#: The optimizer an imported study is stored with: a study needs one, and random search proposes
#: from the space alone, so that ``metaml run`` on an imported study goes on searching without
#: pretending to replay how the trials were chosen.
IMPORTED_OPTIMIZER = "random"


@dataclass(frozen=True)
class ImportReport:
    """What an import wrote: the study, how many trials of each status, and what it skipped and why."""

    study: Study
    imported: Mapping[str, int]
    skipped: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study.name, "store": self.study.store.safe_url, "imported": dict(self.imported),
                "skipped": list(self.skipped)}  # fmt: skip


def write_import(
    store: str | Path | SQLStore,
    name: str,
    space: Space,
    objectives: Sequence[Objective],
    trials: Sequence[ImportedTrial],
    provenance: Mapping[str, Any],
    skipped: Sequence[str] = (),
) -> ImportReport:
    """Write ``trials`` as a new study ``name`` in ``store`` in one transaction; a name already taken is refused."""
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise StoreError(f"an imported study needs a name that is one folder name (no '/', '\\', '..'), got {name!r}")
    db = open_store(store)
    if name in db.list_studies():
        raise StoreError(
            f"a study named {name!r} already exists in {db.safe_url}: import under another name (--as NAME)"
        )
    info = StudyMetadata(
        uid=uuid.uuid4().hex, metaml_version=__version__, python=sys.version.split()[0],
        command=" ".join(sys.argv), description=f"imported from {provenance.get('source', 'elsewhere')}",
        imported={**provenance, "imported_at": time.time(), "trials": len(trials), "skipped": len(skipped)},
    ).to_info()  # fmt: skip
    record = db.import_study(
        name, space.to_dict(), [o.to_dict() for o in objectives], IMPORTED_OPTIMIZER, {}, 0, info, list(trials)
    )
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status.value] = counts.get(t.status.value, 0) + 1
    for reason in skipped:
        log.warning("skipped: %s", reason)
    return ImportReport(Study(db, record), counts, tuple(skipped))
