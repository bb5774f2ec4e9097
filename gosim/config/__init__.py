"""Experiment configs: YAML schema, up-front validation and sweep expansion.

An experiment file holds a base :class:`~gosim.scenario.Scenario`, a sweep
and output options (the full reference: ``gosim schema``, docs/schema.md)::

    name: quickstart
    scenario:            # the base scenario (gosim.scenario.Scenario)
      design: go1.27
      workload:
        groups: [{count: 4, size: 48, allocations: 20000}]
    sweep:
      grid:              # cartesian product over dotted key paths
        design.preset: [go1.12, go1.27]
        gomaxprocs: [1, 2, 4]
      zip:               # lists of equal length varied in lockstep
        workload.groups.0.size: [48, 1024]
        workload.groups.0.allocations: [20000, 5000]
      replications: 3    # seeds spawned from SeedSequence(scenario.seed)
    outputs:
      plots: true        # or false, or a list of plot names
      timeseries: true

The package: ``schema`` (the models above the scenario), ``yamlmap`` (YAML
text -> data and a key-path -> line map), ``translate`` (where an error points,
pydantic's errors in the config's words), ``paths`` (dotted key paths),
``experiment`` (loading and sweep expansion), ``reference`` (the schema
reference that ``gosim schema`` prints).
"""

from gosim.config.experiment import (
    Experiment,
    RunSpec,
    build_experiment,
    canonical_json,
    expand,
    load_experiment,
    parse_experiment,
    replication_seeds,
    short_key,
)
from gosim.config.paths import set_key_path
from gosim.config.schema import PLOT_NAMES, Outputs, Sweep

__all__ = ["PLOT_NAMES", "Experiment", "Outputs", "RunSpec", "Sweep", "build_experiment",
           "canonical_json", "expand", "load_experiment", "parse_experiment", "replication_seeds",
           "set_key_path", "short_key"]
