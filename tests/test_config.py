"""Experiment configs: schema, sweep expansion, seeds, and every bad-config error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from gosim.config import (
    expand,
    load_experiment,
    parse_experiment,
    replication_seeds,
    set_key_path,
)
from gosim.errors import ConfigError

BASE = """\
name: demo
scenario:
  design: go1.27
  seed: 7
  workload:
    groups:
      - count: 2
        size: 48
        allocations: 100
"""


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_expansion_counts_and_order() -> None:
    exp = parse_experiment(BASE + """\
sweep:
  grid:
    design.preset: [go1.12, go1.14, go1.27]
    gomaxprocs: [1, 4]
  zip:
    workload.groups.0.size: [48, 1024]
    workload.groups.0.allocations: [100, 50]
  replications: 3
""")
    runs = expand(exp)
    assert len(runs) == 3 * 2 * 2 * 3
    assert [r.run_id for r in runs] == list(range(36))
    assert len({r.setting_id for r in runs}) == 12
    # replications innermost, then the zip group, then the grid in file order
    first = runs[0]
    assert first.setting == {"design.preset": "go1.12", "gomaxprocs": 1,
                             "workload.groups.0.size": 48,
                             "workload.groups.0.allocations": 100}
    assert [r.replication for r in runs[:3]] == [0, 1, 2]
    assert runs[3].setting["workload.groups.0.size"] == 1024
    assert runs[3].scenario.workload.groups[0].allocations == 50
    assert runs[6].setting["gomaxprocs"] == 4
    assert runs[-1].scenario.design.preset == "go1.27"
    assert runs[-1].scenario.gomaxprocs == 4
    # every run is a distinct scenario
    assert len({r.config_hash for r in runs}) == 36
    assert exp.swept_keys == ["design.preset", "gomaxprocs", "workload.groups.0.size",
                              "workload.groups.0.allocations"]


def test_no_sweep_is_one_run() -> None:
    exp = parse_experiment(BASE)
    assert len(exp.runs) == 1
    assert exp.runs[0].setting == {}
    assert exp.name == "demo"


def test_several_zip_groups_are_crossed() -> None:
    exp = parse_experiment(BASE + """\
sweep:
  zip:
    - {gomaxprocs: [1, 2], workload.groups.0.count: [1, 2]}
    - {workload.groups.0.size: [16, 32, 64]}
""")
    assert len(exp.runs) == 6
    assert {(r.scenario.gomaxprocs, r.scenario.workload.groups[0].count) for r in exp.runs} == {
        (1, 1), (2, 2)}


def test_seeds_common_random_numbers_and_independence() -> None:
    exp = parse_experiment(BASE + """\
sweep:
  grid: {gomaxprocs: [1, 2, 4]}
  replications: 4
""")
    seeds = replication_seeds(7, 4)
    # replication r has the same seed in every setting (common random numbers)
    for r in exp.runs:
        assert r.seed == seeds[r.replication] == r.scenario.seed
    # replications are distinct, and none is the base seed itself
    assert len(set(seeds)) == 4 and 7 not in seeds
    # child r does not depend on how many replications there are
    assert replication_seeds(7, 2) == seeds[:2]
    # they are SeedSequence(7)'s spawned children
    child = np.random.SeedSequence(7).spawn(4)[2]
    assert seeds[2] == int(child.generate_state(1, np.uint64)[0]) & ((1 << 63) - 1)
    # another base seed gives other streams
    assert not set(replication_seeds(8, 4)) & set(seeds)


def test_config_hash_is_stable_and_seed_sensitive(tmp_path: Path) -> None:
    p = write(tmp_path, BASE + "sweep: {replications: 2}\n")
    a, b = load_experiment(p), load_experiment(p)
    assert [r.config_hash for r in a.runs] == [r.config_hash for r in b.runs]
    assert a.runs[0].config_hash != a.runs[1].config_hash
    assert a.config_hash == b.config_hash


def test_shorthands_can_be_swept_inside() -> None:
    # `design: go1.27` and `size: 48` are shorthands; sweeping a key inside them works
    exp = parse_experiment(BASE + """\
sweep:
  grid:
    design.preset: [go1.12]
    design.overrides.page_cache: [true]
    workload.groups.0.size.value: [64]
    workload.groups.0.work_ns: [{dist: exponential, mean: 100}]
""")
    sc = exp.runs[0].scenario
    assert sc.design.preset == "go1.12" and sc.design.overrides == {"page_cache": True}
    assert sc.workload.groups[0].size.value == 64
    assert sc.workload.groups[0].work_ns.dist == "exponential"


def test_set_key_path() -> None:
    d: dict = {"workload": {"groups": [{"size": 48}]}}
    set_key_path(d, "workload.groups.0.count", 3)
    set_key_path(d, "design.preset", "go1.12")
    assert d == {"workload": {"groups": [{"size": 48, "count": 3}]},
                 "design": {"preset": "go1.12"}}
    with pytest.raises(IndexError):
        set_key_path(d, "workload.groups.2.size", 1)


# ------------------------------------------------------------ bad configs

#: (config text, expected key path in the message, expected line or None, words)
BAD = {
    "unknown_scenario_key": (BASE.replace("size: 48", "sise: 48"),
                             "scenario.workload.groups.0.sise", 8, "unknown key"),
    "unknown_top_key": (BASE + "sweeep: {}\n", "sweeep", 10, "unknown key"),
    "unknown_sweep_key": (BASE + "sweep:\n  grdi: {gomaxprocs: [1]}\n", "sweep.grdi", 11,
                          "unknown key"),
    "wrong_type": (BASE.replace("count: 2", "count: many"),
                   "scenario.workload.groups.0.count", 7, "integer"),
    "wrong_type_sweep_list": (BASE + "sweep:\n  grid:\n    gomaxprocs: 4\n",
                              "sweep.grid.gomaxprocs", 12, "list"),
    "unknown_preset": (BASE.replace("design: go1.27", "design: go9"),
                       "scenario.design.preset", 3, "unknown design preset"),
    "unknown_swept_preset": (BASE + "sweep:\n  grid:\n    design.preset: [go1.12, go9]\n",
                             "sweep.grid.design.preset.1", 12, "go9"),
    "gomaxprocs_zero": (BASE.replace("seed: 7", "seed: 7\n  gomaxprocs: 0"),
                        "scenario.gomaxprocs", 5, "greater than or equal to 1"),
    "gomaxprocs_zero_swept": (BASE + "sweep:\n  grid:\n    gomaxprocs: [1, 0]\n",
                              "sweep.grid.gomaxprocs.1", 12, "greater than or equal to 1"),
    "empty_sweep_list": (BASE + "sweep:\n  grid:\n    gomaxprocs: []\n",
                         "sweep.grid.gomaxprocs", 12, "empty sweep list"),
    "unknown_sweep_path": (BASE + "sweep:\n  grid:\n    workload.groups.0.sise: [1]\n",
                           "sweep.grid.workload.groups.0.sise", 12, "'sise'"),
    "sweep_index_out_of_range": (BASE + "sweep:\n  grid:\n    workload.groups.3.size: [1]\n",
                                 "sweep.grid.workload.groups.3.size", 12, "out of range"),
    "zip_lengths": (BASE + "sweep:\n  zip:\n    gomaxprocs: [1, 2]\n    seed: [1]\n",
                    "sweep.zip.seed", 13, "equal lengths"),
    "swept_twice": (BASE + "sweep:\n  grid: {seed: [1]}\n  zip: {seed: [2]}\n",
                    "sweep.zip.seed", 12, "swept twice"),
    "design_override_unknown": (BASE.replace("design: go1.27",
                                             "design: {preset: go1.12, overrides: {pagecache: 1}}"),
                                "scenario.design.overrides.pagecache", 3, "unknown design option"),
    "design_override_type": (BASE.replace("design: go1.27",
                                          "design: {preset: go1.12, overrides: {page_cache: 3}}"),
                             "scenario.design.overrides.page_cache", 3, "boolean"),
    "duplicate_key": (BASE.replace("seed: 7", "seed: 7\n  seed: 8"), "scenario.seed", 5,
                      "duplicate"),
    "bad_plot_name": (BASE + "outputs: {plots: [scaling, pie]}\n", "outputs.plots.1", 10, "pie"),
    "bad_name": (BASE.replace("name: demo", "name: ../up"), "name", 1, "letters"),
    "missing_stop": (BASE.replace("        allocations: 100\n", ""), "scenario", 2,
                     "duration_ns"),
    # strict types: no string or bool coercion to numbers, anywhere
    "gomaxprocs_string": (BASE.replace("seed: 7", "seed: 7\n  gomaxprocs: '2'"),
                          "scenario.gomaxprocs", 5, "valid integer (got '2')"),
    "gomaxprocs_bool": (BASE.replace("seed: 7", "seed: 7\n  gomaxprocs: true"),
                        "scenario.gomaxprocs", 5, "valid integer (got True)"),
    "gomaxprocs_float": (BASE.replace("seed: 7", "seed: 7\n  gomaxprocs: 2.0"),
                         "scenario.gomaxprocs", 5, "valid integer (got 2.0)"),
    "swept_value_string": (BASE + "sweep:\n  grid:\n    gomaxprocs: [1, '2']\n",
                           "sweep.grid.gomaxprocs.1", 12, "value 2: Input should be a valid integer"),
    "count_bool": (BASE.replace("count: 2", "count: true"),
                   "scenario.workload.groups.0.count", 7, "valid integer (got True)"),
    "size_string": (BASE.replace("size: 48", "size: '48'"),
                    "scenario.workload.groups.0.size", 8, "dictionary"),
    "size_bool": (BASE.replace("size: 48", "size: true"),
                  "scenario.workload.groups.0.size", 8, "boolean"),
    "fraction_string": (BASE.replace("size: 48", "size: 48\n        pointer_free_fraction: '0.5'"),
                        "scenario.workload.groups.0.pointer_free_fraction", 9,
                        "valid number (got '0.5')"),
    "lifetime_value_bool": (BASE.replace("size: 48", "size: 48\n        lifetime: {time: true}"),
                            "scenario.workload.groups.0.lifetime.value", 9, "valid integer"),
    "replications_string": (BASE + "sweep: {replications: '3'}\n", "sweep.replications", 10,
                            "valid integer (got '3')"),
    "replications_bool": (BASE + "sweep: {replications: true}\n", "sweep.replications", 10,
                          "valid integer (got True)"),
    "plots_int": (BASE + "outputs: {plots: 1}\n", "outputs.plots", 10, "(got 1)"),
    "description_int": (BASE + "description: 5\n", "description", 10, "valid string"),
    "override_unknown_swept": (BASE + "sweep:\n  grid:\n    design.overrides.page_cache: [1]\n",
                               "sweep.grid.design.overrides.page_cache.0", 12,
                               "value 1: Input should be a valid boolean"),
    # the base value of a swept key is validated too
    "base_gomaxprocs_negative_swept": (
        BASE.replace("seed: 7", "seed: 7\n  gomaxprocs: -5")
        + "sweep:\n  grid:\n    gomaxprocs: [1, 2]\n",
        "scenario.gomaxprocs", 5, "greater than or equal to 1 (got -5); the base value of a "
        "swept key (swept at sweep.grid.gomaxprocs) must be valid too"),
    "base_gomaxprocs_banana_swept": (
        BASE.replace("seed: 7", "seed: 7\n  gomaxprocs: banana")
        + "sweep:\n  zip:\n    gomaxprocs: [1, 2]\n    seed: [1, 2]\n",
        "scenario.gomaxprocs", 5, "valid integer (got 'banana')"),
    "base_gomaxprocs_bool_swept": (
        BASE.replace("seed: 7", "seed: 7\n  gomaxprocs: true")
        + "sweep:\n  grid:\n    gomaxprocs: [1, 2]\n",
        "scenario.gomaxprocs", 5, "valid integer (got True)"),
    "base_preset_swept": (BASE.replace("design: go1.27", "design: go9")
                          + "sweep:\n  grid:\n    design.preset: [go1.12]\n",
                          "scenario.design.preset", 3, "unknown design preset 'go9'"),
    "base_size_inside_swept": (BASE.replace("size: 48", "size: {dist: uniform, low: x, high: 9}")
                               + "sweep:\n  grid:\n    workload.groups.0.size.low: [1]\n",
                               "scenario.workload.groups.0.size.low", 8, "(got 'x')"),
    "base_override_swept": (BASE.replace("design: go1.27",
                                         "design: {preset: go1.12, overrides: {page_cache: 3}}")
                            + "sweep:\n  grid:\n    design.overrides.page_cache: [true]\n",
                            "scenario.design.overrides.page_cache", 3, "boolean (got 3)"),
    "override_unknown_sizeclass_table": (
        BASE.replace("design: go1.27", "design: {preset: go1.14, overrides: {sizeclasses: go9}}"),
        "scenario.design.overrides.sizeclasses", 3, "unknown size-class table 'go9'"),
    "zip_group_index_after_an_empty_group": (BASE + "sweep:\n  zip:\n    - {}\n"
                                             "    - {gomaxprocs: [0]}\n",
                                             "sweep.zip.1.gomaxprocs.0", 13, "value 0"),
    "size_infinite": (BASE.replace("size: 48", "size: .inf"),
                      "scenario.workload.groups.0.size.value", 8, "finite number (got inf)"),
    "work_nan": (BASE.replace("size: 48", "size: 48\n        work_ns: {dist: exponential, mean: .nan}"),
                 "scenario.workload.groups.0.work_ns.mean", 9, "finite number (got nan)"),
    "base_cost_name_swept": (BASE.replace("seed: 7", "seed: 7\n  costs: {nope_ns: 1}")
                             + "sweep:\n  grid:\n    costs: [{malloc_fast_ns: 1}]\n",
                             "scenario.costs.nope_ns", 5, "unknown cost parameter 'nope_ns'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config(tmp_path: Path, case: str) -> None:
    text, key, line, words = BAD[case]
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_experiment(p)
    e = ei.value
    msg = str(e)
    assert e.file == str(p) and str(p) in msg
    assert e.key == key, msg
    assert f"'{key}'" in msg
    assert e.line == line, msg
    if line is not None:
        assert f"{p}:{line}:" in msg
    assert words in msg


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nscenario:\n  workload: [\n    1, 2\n  gomaxprocs: 2\n")
    with pytest.raises(ConfigError) as ei:
        load_experiment(p)
    assert "malformed YAML" in str(ei.value) and ei.value.line is not None
    assert str(ei.value).startswith(f"{p}:{ei.value.line}:")


def test_tab_indented_yaml(tmp_path: Path) -> None:
    p = write(tmp_path, "scenario:\n\tgomaxprocs: 2\n")
    with pytest.raises(ConfigError, match="malformed YAML") as ei:
        load_experiment(p)
    assert ei.value.line == 2


@pytest.mark.parametrize("text, words", [("", "empty"), ("- 1\n- 2\n", "mapping"),
                                         ("just a string\n", "mapping")])
def test_not_a_mapping(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_experiment(write(tmp_path, text))


def test_missing_directory_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found") as ei:
        load_experiment(tmp_path / "nope.yaml")
    assert ei.value.file == str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="directory"):
        load_experiment(tmp_path)
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read"):
        load_experiment(bad)


def test_unknown_cost_parameter(tmp_path: Path) -> None:
    from gosim.sim import costs

    p = write(tmp_path, BASE.replace("seed: 7", "seed: 7\n  costs: {no_such_cost: 5}"))
    with pytest.raises(ConfigError, match="unknown cost parameter") as ei:
        load_experiment(p)
    assert ei.value.key == "scenario.costs.no_such_cost" and ei.value.line == 5
    name = sorted(costs.COST_PARAMETERS)[0]
    p = write(tmp_path, BASE + f"sweep:\n  grid:\n    costs.{name}x: [1]\n")
    with pytest.raises(ConfigError, match="unknown cost parameter"):
        load_experiment(p)
    ok = write(tmp_path, BASE + f"sweep:\n  grid:\n    costs.{name}: [1, 2]\n")
    assert len(load_experiment(ok).runs) == 2


def test_shipped_configs_are_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    # experiments/claims/ holds claim files (an experiment plus a check): gosim.validate
    files = sorted((root / "configs").glob("*.yaml")) + sorted(
        (root / "experiments").glob("*.yaml"))
    assert files, "no shipped configs found"
    for f in files:
        assert load_experiment(f).runs, f


def test_unknown_costs_profile_is_a_config_error_naming_file_and_key(tmp_path):
    from gosim.cli import main

    cfg = tmp_path / "p.yaml"
    cfg.write_text("name: p\nscenario:\n  costs_profile: no-such-profile\n"
                   "  workload: {groups: [{allocations: 10}]}\n")
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "-q"]) == 2
    assert not out.exists()


def test_costs_profile_values_enter_the_config_hash(tmp_path, monkeypatch):
    from gosim.config import load_experiment

    prof = tmp_path / "profiles"
    prof.mkdir()
    (prof / "mine.yaml").write_text("name: mine\nparameters:\n  malloc_fast_ns: 10\n")
    monkeypatch.setenv("GOSIM_PROFILE_PATH", str(prof))
    cfg = tmp_path / "p.yaml"
    cfg.write_text("name: p\nscenario:\n  costs_profile: mine\n"
                   "  workload: {groups: [{allocations: 10}]}\n")
    h1 = expand(load_experiment(cfg))[0].config_hash
    (prof / "mine.yaml").write_text("name: mine\nparameters:\n  malloc_fast_ns: 11\n")
    h2 = expand(load_experiment(cfg))[0].config_hash
    assert h1 != h2


def test_an_error_above_a_swept_key_that_the_sweep_mends_is_no_error() -> None:
    # the base size alone is invalid (low > high) but every swept `low` mends it
    exp = parse_experiment(BASE.replace("size: 48", "size: {dist: uniform, low: 90, high: 64}")
                           + "sweep:\n  grid:\n    workload.groups.0.size.low: [8, 16]\n")
    assert [r.scenario.workload.groups[0].size.low for r in exp.runs] == [8, 16]
    # a base that leaves out what the sweep fills in (the stop condition)
    exp = parse_experiment(BASE.replace("        allocations: 100\n", "")
                           + "sweep:\n  grid:\n    workload.groups.0.allocations: [5]\n")
    assert exp.runs[0].scenario.workload.groups[0].allocations == 5


def test_a_bad_base_value_of_a_swept_key_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    from gosim.cli import main

    for bad in ("-5", "banana", "'2'", "true"):
        cfg = write(tmp_path, BASE.replace("seed: 7", f"seed: 7\n  gomaxprocs: {bad}")
                    + "sweep:\n  grid:\n    gomaxprocs: [1, 2]\n")
        out = tmp_path / "out"
        assert main(["run", str(cfg), "--out", str(out), "-q"]) == 2, bad
        assert not out.exists()


@pytest.mark.parametrize("written, kind, value", [
    ("drop", "drop", None), ("keep", "keep", None),
    ("{allocations: 8}", "allocations", 8), ("{time: 5000}", "time", 5000),
    ("{kind: time, value: 7}", "time", 7),
])
def test_lifetime_forms(written: str, kind: str, value: int | None) -> None:
    exp = parse_experiment(BASE.replace("size: 48", f"size: 48\n        lifetime: {written}"))
    lt = exp.runs[0].scenario.workload.groups[0].lifetime
    assert (lt.kind, lt.value) == (kind, value)


def test_lifetime_short_form_can_be_swept_inside() -> None:
    exp = parse_experiment(BASE.replace("size: 48", "size: 48\n        lifetime: {time: 50}")
                           + "sweep:\n  grid:\n    workload.groups.0.lifetime.value: [10, 20]\n")
    assert [(r.scenario.workload.groups[0].lifetime.kind,
             r.scenario.workload.groups[0].lifetime.value) for r in exp.runs] == [
        ("time", 10), ("time", 20)]


def test_swept_error_names_the_index_of_the_value_that_caused_it(tmp_path: Path) -> None:
    # the same bad value twice in a zip group: the first setting that uses it is reported
    p = write(tmp_path, BASE + "sweep:\n  zip:\n    seed: [1, 2, 3]\n"
              "    gomaxprocs: [1, 2, 0]\n")
    with pytest.raises(ConfigError) as ei:
        load_experiment(p)
    assert ei.value.key == "sweep.zip.gomaxprocs.2" and ei.value.line == 13


# ------------------------------------------------------------ the schema reference

ROOT = Path(__file__).resolve().parent.parent


def test_docs_schema_md_is_the_output_of_gosim_schema(capsys: pytest.CaptureFixture[str]) -> None:
    from gosim.cli import main

    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert (ROOT / "docs" / "schema.md").read_text() == out, (
        "docs/schema.md is stale: regenerate it with `gosim schema > docs/schema.md`")


def test_schema_example_loads_and_uses_every_form() -> None:
    from gosim.config.reference import EXAMPLE

    exp = parse_experiment(EXAMPLE)
    assert len(exp.runs) == 2 * 2 * 3 * 3  # grid 2 x 2, zip of 3, 3 replications
    sc = exp.runs[0].scenario
    assert sc.design.preset == "go1.14" and sc.design.overrides == {"page_cache": True}
    a, b = sc.workload.groups
    assert (a.lifetime.kind, a.lifetime.value) == ("allocations", 64)
    assert b.lifetime.kind == "keep" and b.size.dist == "choice"
    assert sc.costs["pagealloc_ns"].dist == "lognormal"
    assert exp.outputs.plot_names() == ["scaling", "p_time"]


def test_markdown_reference_lists_every_key_option_and_cost() -> None:
    from gosim.config import reference
    from gosim.runtime.design import PRESETS
    from gosim.scenario import design_options
    from gosim.sim.costs import COST_PARAMETERS

    md = reference.markdown()
    sections = md.split("\n## ")
    for model, title in reference.SECTIONS.items():
        body = next(s for s in sections if s.startswith(title + "\n"))
        for name in model.model_fields:
            assert f"\n| `{name}` |" in body, (title, name)
    overrides = md.split("### scenario.design.overrides")[1].split("\n## ")[0]
    assert overrides.count("\n| `") == len(design_options())
    for p in PRESETS:
        assert f"`{p}`" in overrides
    costs = md.split("## scenario.costs")[1]
    for name, p in COST_PARAMETERS.items():
        assert f"| `{name}` | {p.default:g} | {p.unit} |" in costs


def test_json_schema_follows_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from gosim.cli import main
    from gosim.config.reference import json_schema
    from gosim.runtime.design import PRESETS
    from gosim.scenario import Scenario
    from gosim.sim.costs import COST_PARAMETERS

    assert main(["schema", "--format", "json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js == json.loads(json.dumps(json_schema()))
    defs = js["$defs"]
    assert js["properties"]["scenario"]["$ref"] == "#/$defs/Scenario"
    assert js["additionalProperties"] is False
    sc = defs["Scenario"]
    assert set(sc["properties"]) == set(Scenario.model_fields)
    assert sc["properties"]["gomaxprocs"] == {
        "default": 1, "description": "number of Ps", "maximum": 1024, "minimum": 1,
        "title": "Gomaxprocs", "type": "integer"}
    assert sc["properties"]["costs"]["propertyNames"]["enum"] == sorted(COST_PARAMETERS)
    # the short forms are part of the schema
    design_short, design_map = defs["DesignSpec"]["anyOf"]
    assert design_short == {"type": "string", "enum": sorted(PRESETS)}
    assert design_map["properties"]["preset"]["enum"] == sorted(PRESETS)
    assert defs["Dist"]["anyOf"][0] == {"type": "number", "minimum": 0}
    needs = {r["if"]["properties"]["dist"]["const"]: r["then"]["required"]
             for r in defs["Dist"]["anyOf"][1]["allOf"] if "properties" in r["if"]}
    assert needs == {"const": ["value"], "exponential": ["mean"], "lognormal": ["mean", "sigma"],
                     "uniform": ["low", "high"], "choice": ["values"], "empirical": ["values"],
                     "histogram": ["edges", "weights"]}
    assert [f.get("enum") or f.get("required") for f in defs["Lifetime"]["anyOf"][:3]] == [
        ["drop", "keep"], ["allocations"], ["time"]]
    assert defs["Lifetime"]["anyOf"][3]["allOf"] == [
        {"if": {"properties": {"kind": {"enum": ["allocations", "time"]}}, "required": ["kind"]},
         "then": {"required": ["value"]}}]


def test_schema_rejects_an_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    from gosim.cli import main

    assert main(["schema", "--format", "xml"]) == 2
    assert "--format" in capsys.readouterr().err


def test_the_experiments_readme_example_loads() -> None:
    text = (ROOT / "experiments" / "README.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    exp = parse_experiment(block)
    # grid 3 presets x (4 gomaxprocs zip x 2 size zip) x 3 replications
    assert len(exp.runs) == 3 * 4 * 2 * 3
    assert exp.name == "quickstart"


def test_a_bad_swept_profile_in_the_base_is_reported(tmp_path: Path, monkeypatch) -> None:
    prof = tmp_path / "profiles"
    prof.mkdir()
    (prof / "mine.yaml").write_text("name: mine\nparameters:\n  malloc_fast_ns: 10\n")
    monkeypatch.setenv("GOSIM_PROFILE_PATH", str(prof))
    p = write(tmp_path, BASE.replace("seed: 7", "seed: 7\n  costs_profile: nope")
              + "sweep:\n  grid:\n    costs_profile: [mine]\n")
    with pytest.raises(ConfigError, match="nope.*must be valid too") as ei:
        load_experiment(p)
    assert (ei.value.key, ei.value.line) == ("scenario.costs_profile", 5)
    ok = write(tmp_path, BASE.replace("seed: 7", "seed: 7\n  costs_profile: mine")
               + "sweep:\n  grid:\n    costs_profile: [mine]\n")
    assert load_experiment(ok).runs[0].scenario.costs_profile == "mine"


def test_the_experiments_readme_run_counts() -> None:
    text = (ROOT / "experiments" / "README.md").read_text()
    rows = [line.split("|") for line in text.splitlines()
            if line.startswith("| `configs/") or line.startswith("| `experiments/")]
    assert len(rows) == 4
    for row in rows:
        path, runs = row[1].strip().strip("`"), int(row[3])
        assert len(load_experiment(ROOT / path).runs) == runs, path
