"""The tools deep-learning researchers already use, fed from a metaml study.

Each integration is a module of its own with its own optional extra, imported only when
used, so that ``pip install metaml`` stays lean:

- ``metaml.integrations.lightning``: a PyTorch Lightning callback that reports, checkpoints
  and stops a Lightning run through its trial (``pip install 'metaml[lightning]'``);
- ``metaml.integrations.tensorboard``: a study as TensorBoard event files (curves, HParams,
  the front) (``metaml[tensorboard]``, the command ``metaml tensorboard``);
- ``metaml.integrations.mlflow``: each trial as an MLflow run (``metaml[mlflow]``, the
  command ``metaml mlflow``);
- ``metaml.integrations.deepcave``: a study in DeepCAVE's own run format (``metaml[deepcave]``,
  the command ``metaml export --format deepcave``).

The three writers read only the store, through ``metaml.Study``, so they work on finished
and running studies alike, and running one again brings its output up to date.
"""

from __future__ import annotations

from metaml.integrations.base import IntegrationError, MissingExtraError

__all__ = ["IntegrationError", "MissingExtraError"]
