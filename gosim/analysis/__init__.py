"""Analysis of results: statistics, tidy per-setting tables, plots, summaries.

Reads what ``gosim.runner`` writes to ``results/<name>/`` (or the same
DataFrames in memory); never runs the simulator.
"""
