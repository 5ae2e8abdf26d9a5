"""An ifBO-style curve model trained offline on synthetic freeze-thaw tasks, measured against freeze_thaw's GP.

Issue 15 names one route to its targets that was not measured: a learning-curve model
pretrained on curves this project generates (a prior-data fitted network, PFN: Müller et al.
2022; ifBO's FT-PFN, Rakotoarison et al. 2024, whose weights are downloaded at run time and so
cannot be used here). This package is that experiment, small enough for a 2-core machine:

* ``prior``: synthetic tasks. A configuration in ``[0, 1]^d`` (``d`` from 1 to ``d_max``, half the tasks
  at most ``NARROW``; the shipped weights were trained with every task at most 12 wide) maps
  through a random two-layer network to the parameters of its loss curve, a saturating power
  law with an optional late rise (over-fitting) and a share of configurations stuck near chance;
  points at freeze_thaw's geometric steps, curve lengths mostly short.
* ``network``: the training side of the network, which lives in ``metaml.optimizers.curve_network``
  (a transformer that reads the observed points and answers queries, a configuration at the full
  fidelity with a summary of its own curve when it has one, with a Gaussian over the log loss;
  metaml ships the weights that ``train --minutes 30`` wrote).
* ``python -m benchmarks.curve_pfn train`` trains it for a wall-clock budget (``--resume``: from earlier
  weights, widened with zero input weights when ``--d-max`` is larger); ``compare`` ranks
  real LCBench partial curves (the development tasks) by the network's, the GP's and the
  current values' predicted finals (Spearman with the true finals); ``search`` runs
  ``freeze_thaw`` with and without ``curve_network`` and the benchmark-only variants of
  ``search.py`` through the issue's runner.

``freeze_thaw``'s ``curve_network`` setting (off by default) is the variant that was kept
(docs/benchmarks.md, "A curve model pretrained on synthetic curves").
"""
