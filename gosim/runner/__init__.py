"""Run an experiment's sweep and write ``results/<name>/``.

``run_experiment`` checks that the results directory can be written, expands
the experiment, skips runs already in the run cache, runs the rest on the
local process pool or a Dask cluster (the same pure function either way, so
results are identical), records failures instead of stopping, and writes the
tables, manifest, summary and plots. On Ctrl-C it abandons the runs in
flight, writes what completed and raises ``RunInterrupted`` (a rerun resumes).
"""

from gosim.runner.core import (
    ExperimentOutcome,
    ResultsDirError,
    RunInterrupted,
    check_results_dir,
    default_jobs,
    run_experiment,
)

__all__ = ["ExperimentOutcome", "ResultsDirError", "RunInterrupted", "check_results_dir",
           "default_jobs", "run_experiment"]
