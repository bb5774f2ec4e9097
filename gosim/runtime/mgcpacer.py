"""The GC pacer (runtime/mgcpacer.go, Go 1.21+ formulation).

- The heap goal: the heap marked live by the last cycle, grown by GOGC
  percent (``gcPercentHeapGoal``), at least the 4 MiB minimum scaled by
  GOGC (``heapMinimum``), and at most what GOMEMLIMIT leaves
  (``memoryLimitHeapGoal``).
- The trigger: between 45/64 and 61/64 of the way from the marked heap to
  the goal, placed so that the mark work, done at the 25% background
  utilisation, finishes by the goal: ``goal - runway``, with
  ``runway = consMark x (1 - u)/u x lastHeapScan`` and ``consMark`` the
  largest of this cycle's ratio of allocation to scan rate and the last
  four cycles' (endCycle: ``consMark`` is the largest of the current value
  and ``lastConsMark[4]``, the current one then shifted in).
- Workers: 25% of GOMAXPROCS as dedicated workers, rounded, unless that is
  more than 30% off, in which case the rest is a fractional goal per P
  (``startCycle``).
- Assists: a goroutine that allocates while marking owes mark work in
  proportion (``assistWorkPerByte`` = expected scan work left / heap distance
  left to the goal).
- ``heapLive``: grown by every mcache refill by the span's free bytes, and by
  large allocations; shrunk when an mcache gives back its unused part; reset
  to the marked heap at mark termination.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

#: mgcpacer.go defaultHeapMinimum
DEFAULT_HEAP_MINIMUM: Final = 4 << 20
#: gcBackgroundUtilization / gcGoalUtilization
GC_BACKGROUND_UTILIZATION: Final = 0.25
GC_GOAL_UTILIZATION: Final = GC_BACKGROUND_UTILIZATION
#: startCycle's maxUtilError
MAX_UTIL_ERROR: Final = 0.3
#: trigger bounds: triggerRatioDen, minTriggerRatioNum, maxTriggerRatioNum
TRIGGER_RATIO_DEN: Final = 64
MIN_TRIGGER_RATIO_NUM: Final = 45
MAX_TRIGGER_RATIO_NUM: Final = 61
#: the memory limit's headroom (memoryLimitHeapGoalHeadroomPercent)
MEMORY_LIMIT_HEADROOM_PERCENT: Final = 3


@dataclass
class GCController:
    """mgcpacer.go gcControllerState, as far as the model needs it."""

    gogc: int = 100
    memory_limit: int | None = None
    heap_live: int = 0
    heap_marked: int = 0
    #: bytes of pointerful objects marked last cycle (lastHeapScan)
    last_heap_scan: int = 0
    #: last cycle's whole scan work, roots (stacks, globals) included, in bytes
    #: (lastHeapScan + lastStackScan + globalsScan: what the runway covers)
    last_scan_work: int = 0
    #: heapLive when the current cycle was triggered
    triggered: int = 0
    #: the last five cycles' consMark: this cycle's and lastConsMark's four
    cons_marks: list[float] = field(default_factory=lambda: [0.0] * 5)
    #: workers of the current cycle
    dedicated: int = 0
    fractional_goal: float = 0.0

    # -- the goal and the trigger -----------------------------------------------------
    def heap_minimum(self) -> int:
        return DEFAULT_HEAP_MINIMUM * self.gogc // 100

    def heap_goal(self, non_heap_bytes: int = 0) -> int:
        """heapGoalInternal: the GOGC goal, bounded by the memory limit's."""
        goal = self.heap_marked + self.heap_marked * self.gogc // 100
        goal = max(goal, self.heap_minimum())
        if self.memory_limit is not None:
            limit_goal = (self.memory_limit - non_heap_bytes) * \
                (100 - MEMORY_LIMIT_HEADROOM_PERCENT) // 100
            goal = min(goal, max(limit_goal, self.heap_marked + (64 << 10)))
        return goal

    def cons_mark(self) -> float:
        return max(self.cons_marks)

    def trigger(self, non_heap_bytes: int = 0) -> tuple[int, int]:
        """gcControllerState.trigger: (trigger, goal)."""
        goal = self.heap_goal(non_heap_bytes)
        marked = self.heap_marked
        if marked >= goal:
            return goal, goal
        span = (goal - marked) // TRIGGER_RATIO_DEN
        min_trigger = marked + span * MIN_TRIGGER_RATIO_NUM
        max_trigger = marked + span * MAX_TRIGGER_RATIO_NUM
        if goal > DEFAULT_HEAP_MINIMUM and goal - DEFAULT_HEAP_MINIMUM > max_trigger:
            max_trigger = goal - DEFAULT_HEAP_MINIMUM
        max_trigger = max(max_trigger, min_trigger)
        runway = int(self.cons_mark() * (1 - GC_GOAL_UTILIZATION) / GC_GOAL_UTILIZATION
                     * self.last_scan_work)
        trigger = min_trigger if runway > goal else goal - runway
        trigger = min(max(trigger, min_trigger), max_trigger)
        return trigger, goal

    def seed_cons_mark(self, value: float) -> None:
        """The cons/mark history a program leaves by the cycles it ran before
        time 0 (``lastConsMark``: every entry)."""
        self.cons_marks = [max(value, 0.0)] * len(self.cons_marks)

    # -- a cycle ---------------------------------------------------------------------------
    def start_cycle(self, gomaxprocs: int) -> None:
        """startCycle: dedicated workers and the fractional goal."""
        self.triggered = self.heap_live
        total = gomaxprocs * GC_BACKGROUND_UTILIZATION
        dedicated = int(total + 0.5)
        util_error = dedicated / total - 1
        fractional = 0.0
        if util_error < -MAX_UTIL_ERROR or util_error > MAX_UTIL_ERROR:
            if dedicated > total:
                dedicated -= 1
            fractional = (total - dedicated) / gomaxprocs
        self.dedicated = dedicated
        self.fractional_goal = fractional

    def end_cycle(self, heap_marked: int, heap_scan: int, scan_work: int,
                  utilization: float) -> None:
        """endCycle + resetLive: record the cycle's consMark, take the marked heap.
        A cycle in which heapLive did not grow past its trigger leaves the
        history alone (endCycle returns early: a forced cycle nobody allocated
        during)."""
        if scan_work > 0 and utilization < 1 and self.heap_live > self.triggered:
            cons = ((self.heap_live - self.triggered) * utilization
                    / (scan_work * (1 - utilization)))
            self.cons_marks = [*self.cons_marks[1:], max(cons, 0.0)]
        self.heap_marked = heap_marked
        self.last_heap_scan = heap_scan
        self.last_scan_work = scan_work
        self.heap_live = heap_marked


__all__ = ["GCController", "DEFAULT_HEAP_MINIMUM"]
