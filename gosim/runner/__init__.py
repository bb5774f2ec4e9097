"""Run an experiment's sweep and write ``results/<name>/``.

``run_experiment`` expands the experiment, skips runs already in the run
cache, runs the rest on the local process pool or a Dask cluster (the same
pure function either way, so results are identical), records failures
instead of stopping, and writes the tables, manifest, summary and plots.
"""

from gosim.runner.core import ExperimentOutcome, default_jobs, run_experiment

__all__ = ["ExperimentOutcome", "default_jobs", "run_experiment"]
