"""Experiment configs: schema, validation and sweep expansion (``gosim.config.experiment``)."""

from gosim.config.experiment import (
    PLOT_NAMES,
    Experiment,
    ExperimentFile,
    Outputs,
    PlotName,
    RunSpec,
    Sweep,
    build_experiment,
    canonical_json,
    check_key_path,
    expand,
    format_value,
    load_experiment,
    parse_experiment,
    replication_seeds,
    scenario_hash,
    set_key_path,
    setting_label,
    short_key,
)

__all__ = ["PLOT_NAMES", "Experiment", "ExperimentFile", "Outputs", "PlotName", "RunSpec", "Sweep",
           "build_experiment", "canonical_json", "check_key_path", "expand", "format_value",
           "load_experiment", "parse_experiment", "replication_seeds", "scenario_hash",
           "set_key_path", "setting_label", "short_key"]
