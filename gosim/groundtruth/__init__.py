"""The real runtime as a reference: records of Go allocating on many cores,
the same workloads simulated, and how well the two agree.

- :mod:`gosim.groundtruth.records`: read and validate a ground-truth JSONL file
  (one measured run per line; the format of
  ``experiments/groundtruth/go1.27-16core.jsonl``), and name a record's top
  contended lock the way the runtime's mutex profile does.
- :mod:`gosim.groundtruth.mapping`: a record -> the :class:`gosim.scenario.Scenario`
  that simulates its workload, and the simulated window (:func:`sim_window`).
- :mod:`gosim.groundtruth.simulate`: run the scenarios (a process pool, results in
  record order).
- :mod:`gosim.groundtruth.scoring`: the comparison table and the agreement checks
  (peak GOMAXPROCS, throughput at the ends of the grid, the top lock), the
  log-error of a fit and of its hold-out set.
- :mod:`gosim.groundtruth.fit`: fit cost parameters on the fit records, write a
  calibration profile.
- :mod:`gosim.groundtruth.plots`: one plot per case: throughput and top lock vs
  GOMAXPROCS, real and simulated.

``gosim groundtruth`` (gosim/commands/groundtruth.py) ties them together;
docs/groundtruth.md documents every choice.
"""
