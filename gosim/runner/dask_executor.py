"""The Dask executor: the same pure run function on a distributed cluster.

``scheduler`` is a Dask scheduler address (``tcp://host:8786``); without one
a ``LocalCluster`` of ``jobs`` single-threaded worker processes is started
for the sweep. Workers need gosim installed (the same version: the run cache
is keyed by the driver's model fingerprint).
"""

from __future__ import annotations

from typing import Any

from gosim.errors import ConfigError
from gosim.runner.execute import SimulateFn, execute_run
from gosim.runner.local import OnDone, Task


def run_dask(tasks: list[Task], jobs: int, on_done: OnDone, simulate_fn: SimulateFn | None = None,
             scheduler: str | None = None, key_prefix: str = "gosim-run") -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("the dask executor needs Dask distributed: "
                          "pip install 'gosim[dask]'") from None
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as e:
                raise ConfigError(f"cannot connect to the Dask scheduler at {scheduler!r}: "
                                  f"{e}") from None
        else:
            cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
        try:
            futures: dict[Any, str] = {}
            for key, scenario in tasks:
                fut = client.submit(execute_run, scenario, simulate_fn,
                                    key=f"{key_prefix}-{key}", pure=False)
                futures[fut] = key
            try:
                for fut in as_completed(list(futures)):
                    try:
                        out = fut.result()
                    except Exception as e:  # worker lost, unpicklable, gosim missing
                        out = {"ok": False, "result": None, "wall_s": 0.0,
                               "error": f"dask task failed: {type(e).__name__}: {e}"}
                    on_done(futures[fut], out)
                    fut.release()
            except BaseException:  # Ctrl-C: stop the tasks still queued or running
                client.cancel([f for f in futures if not f.done()])
                raise
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
