"""mcentral: the central list of spans for one span class (runtime/mcentral.go).

Two designs, as in the Go history:

- ``locked`` (Go <= 1.14, runtime/mcentral.go of Go 1.14): spans with free
  objects ('nonempty', here ``partial``) and spans without or owned by an
  mcache ('empty', here ``full``), both under one mutex. ``cache_span``
  (cacheSpan) takes the lock, and when the lists are empty releases it, grows
  from the heap (mheap.lock) and relocks to insert the new span.
- ``lockfree`` (Go 1.15+, after Go issue 37487):
  ``partial``/``full`` span sets (mspanset.go) with lock-free push/pop: atomic
  operations whose cost grows with concurrency.

With ``transfer_batch_objects > 0`` (the tcmalloc design) the cache receives
a batch of objects instead of a whole span, and the span stays with mcentral:
under the lock (tcmalloc's central free list), or, with lock-free span sets,
popped, drawn from and pushed back (``_transfer_lockfree``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from gosim.runtime.context import AtomicCell, Ctx, Gen, MaybeGen, Mutex

if TYPE_CHECKING:
    from gosim.runtime.design import Design
    from gosim.runtime.mgcsweep import Sweeper
    from gosim.runtime.mheap import MHeap
    from gosim.runtime.mspan import MSpan
    from gosim.runtime.runtime2 import P


#: cacheSpan's reserved addresses when a whole span goes to the cache: none
#: (one list for every such refill, never written: mcache keeps reserved
#: addresses only for batched transfers)
NO_RESERVED: Final[list[int]] = []


class SpanSeq:
    """The next SpanSet entry's sequence number, shared by every set of one
    runtime (so that an entry left behind in one set never matches its span's
    entry in another)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


class SpanSet:
    """An insertion-ordered set of spans (mspanset.go's spanSet as mcentral
    uses it): push at the back, take out any span, pop the oldest.

    A dict popped from the front slows down as it goes (each ``next(iter(d))``
    skips every entry deleted before it, until the dict is rebuilt): sweeping
    a big heap's unswept set that way took time quadratic in its spans. Here
    the order is a list read from a head index, with each entry's sequence
    number (unique among all sets, and kept on the span while it is in one:
    ``MSpan.set_seq``, -1 while it is in none); an entry whose span has
    since left the set (and maybe entered another) is stale and skipped. The
    list is compacted when stale entries outnumber live ones, so every
    operation is amortised O(1) and the order is exactly that of a dict with
    the same pushes and removals. A span is in one set at most: pushing one
    that is in a set, or removing one that is in none, raises."""

    __slots__ = ("_n", "_spans", "_seqs", "_head", "_next")

    def __init__(self, seqs: SpanSeq | None = None) -> None:
        #: the sequence numbers this set draws from (shared by a runtime's sets)
        self._next = seqs if seqs is not None else SpanSeq()
        #: how many spans are in the set (each in it carries its entry's
        #: sequence number, ``MSpan.set_seq``; no set of ids to hash into)
        self._n = 0
        #: entries in push order, from ``_head`` on
        self._spans: list[MSpan] = []
        self._seqs: list[int] = []
        self._head = 0

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def push(self, s: MSpan) -> None:
        if s.set_seq >= 0:
            raise RuntimeError(f"span {s.sid} pushed to a span set while in one")
        nxt = self._next
        seq = nxt.n
        nxt.n = seq + 1
        s.set_seq = seq
        self._n += 1
        self._spans.append(s)
        self._seqs.append(seq)

    def remove(self, s: MSpan) -> None:
        """Take ``s`` out (it must be in this set: the caller knows, from
        ``MSpan.on_list``)."""
        if s.set_seq < 0:
            raise RuntimeError(f"span {s.sid} removed from a span set it is not in")
        s.set_seq = -1
        n = self._n - 1
        self._n = n
        if len(self._spans) - self._head > 2 * n + 32:
            self._compact()

    def _compact(self) -> None:
        spans: list[MSpan] = []
        seqs: list[int] = []
        old_spans = self._spans
        old_seqs = self._seqs
        for i in range(self._head, len(old_spans)):
            s = old_spans[i]
            seq = old_seqs[i]
            if s.set_seq == seq:  # live: the span's entry is this one
                spans.append(s)
                seqs.append(seq)
        self._spans = spans
        self._seqs = seqs
        self._head = 0

    def first(self) -> MSpan | None:
        """The oldest span, left in the set."""
        spans = self._spans
        seqs = self._seqs
        n = len(spans)
        i = self._head
        while i < n and spans[i].set_seq != seqs[i]:  # a stale entry: skip it
            i += 1
        self._head = i
        return spans[i] if i < n else None

    def pop_first(self) -> MSpan | None:
        """Take the oldest span out of the set."""
        s = self.first()
        if s is not None:
            self._n -= 1
            s.set_seq = -1
            h = self._head + 1
            if h > 32 and 2 * h > len(self._spans):
                # every entry before the head is spent: drop them in one
                # memmove (stale entries after it stay, to be skipped or
                # compacted away later)
                del self._spans[:h]
                del self._seqs[:h]
                h = 0
            self._head = h
        return s

    def values(self) -> list[MSpan]:
        """The spans, oldest first."""
        spans = self._spans
        seqs = self._seqs
        return [spans[i] for i in range(self._head, len(spans)) if spans[i].set_seq == seqs[i]]

    def items(self) -> list[tuple[int, MSpan]]:
        """(span id, span), oldest first."""
        return [(s.sid, s) for s in self.values()]


class MCentral:
    def __init__(self, heap: MHeap, ps: list[P], spanclass: int, design: Design,
                 shared: Mutex | AtomicCell | None = None,
                 seqs: SpanSeq | None = None) -> None:
        self.heap = heap
        self.ps = ps
        self.spanclass = spanclass
        self.size_class = spanclass >> 1
        self.npages = heap.table.class_to_npages(self.size_class) if self.size_class else 0
        self.locked = design.mcentral == "locked"
        self.batch = design.transfer_batch_objects
        # the span sets' sequence numbers, shared by every class of the runtime
        # (a span struct freed to the heap may come back in another class)
        seqs = seqs if seqs is not None else SpanSeq()
        #: spans with free objects, not owned by a cache (insertion ordered)
        self.partial = SpanSet(seqs)
        #: spans with no free objects or owned by an mcache
        self.full = SpanSet(seqs)
        #: the same two sets for spans that need sweeping (the collector's last
        #: cycle marked them and nobody has swept them yet)
        self.partial_unswept = SpanSet(seqs)
        self.full_unswept = SpanSet(seqs)
        # ``shared`` (design.mcentral_lock: shared): one lock or span-set cell for
        # every class, made by the Runtime; otherwise this class's own
        name = f"mcentral[spc={spanclass}]"
        if self.locked:
            self.lock = shared if isinstance(shared, Mutex) else Mutex(
                name, "mcentral", spanclass, self.size_class)
        else:
            self.spanset = shared if isinstance(shared, AtomicCell) else AtomicCell(
                f"{name}.spanset", "spanset", spanclass, self.size_class)

    # -- list moves (no lock, no cost: callers own the synchronisation) ---------------
    # Go 1.15+ keeps four span sets per class, indexed by sweepgen (mcentral.go
    # partialSwept / partialUnswept / fullSwept / fullUnswept); the collector's
    # sweepgen flip (``flip_sweepgen``) turns the swept sets into the unswept ones.
    def to_partial(self, s: MSpan) -> None:
        """The span has free objects and no owner (swept)."""
        self._off_list(s)
        self.partial.push(s)
        s.on_list = "partial"

    def to_full(self, s: MSpan) -> None:
        """The span has no free objects or is owned by an mcache (swept)."""
        self._off_list(s)
        self.full.push(s)
        s.on_list = "full"

    def _off_list(self, s: MSpan) -> None:
        lst = s.on_list
        if lst == "partial":
            self.partial.remove(s)
        elif lst == "full":
            self.full.remove(s)
        elif lst == "partial_unswept":
            self.partial_unswept.remove(s)
        elif lst == "full_unswept":
            self.full_unswept.remove(s)

    def remove(self, s: MSpan) -> None:
        """Take the span off every list (it is going back to the heap)."""
        self._off_list(s)
        s.on_list = ""

    def flip_sweepgen(self) -> bool:
        """mgc.go gcSweep's sweepgen += 2 as this class sees it: every span on a
        swept set now needs sweeping. True if the class has spans to sweep."""
        assert not self.partial_unswept and not self.full_unswept, "sweep not finished"
        self.partial_unswept, self.partial = self.partial, self.partial_unswept
        self.full_unswept, self.full = self.full, self.full_unswept
        for s in self.partial_unswept.values():
            s.on_list = "partial_unswept"
        for s in self.full_unswept.values():
            s.on_list = "full_unswept"
        return bool(self.partial_unswept or self.full_unswept)

    def pop_unswept(self) -> MSpan | None:
        """mgcsweep.go nextSpanForSweep for this class: partial unswept first."""
        d = self.partial_unswept or self.full_unswept
        s = d.pop_first()
        if s is not None:
            s.on_list = ""
        return s

    def push_swept(self, s: MSpan) -> None:
        """After a sweep that keeps the span: the swept set it belongs on."""
        if s.free_count() > 0:
            self.to_partial(s)
        else:
            self.to_full(s)

    def push_full(self, ctx: Ctx, s: MSpan) -> Gen[None]:
        """A large object's span, fresh from the heap, joins the full list
        (mcache.go allocLarge). Go 1.15+ pushes it onto the full swept span set,
        an atomic; before that mcentral kept no large spans, so no lock is taken."""
        if not self.locked:
            w = ctx.atomic(self.spanset, "spanset_op_ns")
            if w:  # (an empty tuple: nothing waits)
                yield from w
        self.to_full(s)

    # -- cacheSpan / uncacheSpan ---------------------------------------------------
    def cache_span(self, ctx: Ctx) -> Gen[tuple[MSpan, int, list[int]]]:
        """mcentral.go cacheSpan: give an mcache a span with free objects.
        Returns (span, objects granted, reserved addresses).

        With the collector on, first the proportional sweeper (mgcsweep.go
        deductSweepCredit) sweeps what this span's bytes owe; then a swept
        partial span, else an unswept partial one swept here, else unswept full
        ones swept until one has room (at most a budget of 100), else a fresh
        span from the heap (``grow``). A span swept here is kept even if every
        object in it died (sweep with preserve: no freeSpan)."""
        st = self.heap.stats
        st.cache_span_calls += 1
        p = ctx.p  # the flow counters' P
        sweeper = self.heap.sweeper
        if sweeper is not None and sweeper.active:
            w = sweeper.deduct_sweep_credit(ctx, self.npages)
            if w:
                yield from w
        if not self.locked:
            w = ctx.atomic(self.spanset, "spanset_op_ns")
            if w:
                yield from w
            if self.partial:
                s = self.partial.pop_first()
            else:
                s = None
                if sweeper is not None and (self.partial_unswept or self.full_unswept):
                    s = yield from self._sweep_for_cache(ctx, sweeper)
                if s is None:
                    s = yield from self.grow(ctx)
            assert s is not None
            s.on_list = ""
            if self.batch:
                return (yield from self._transfer_lockfree(ctx, s))
            s.in_cache = True
            n = s.free_count()
            st.flow_cache_spans.add2(p, self.spanclass)
            st.flow_cache_objects.add2(p, self.spanclass, n)
            return s, n, NO_RESERVED
        w = ctx.lock(self.lock, "(*mcentral).cacheSpan")
        if w:
            yield from w
        ctx.spend("mcentral_cachespan_ns")
        s = self.partial.first()
        if s is None and sweeper is not None and (self.partial_unswept or self.full_unswept):
            # Go <= 1.14: an unswept span is taken off the list, the lock dropped
            # while it is swept, and the lock retaken to put it on the 'empty' list
            w = ctx.unlock(self.lock)
            if w:
                yield from w
            s = yield from self._sweep_for_cache(ctx, sweeper)
            w = ctx.lock(self.lock, "(*mcentral).cacheSpan")
            if w:
                yield from w
            if s is not None:
                self.to_partial(s)
        if s is None:
            w = ctx.unlock(self.lock)
            if w:
                yield from w
            s = yield from self.grow(ctx)
            w = ctx.lock(self.lock, "(*mcentral).cacheSpan")
            if w:
                yield from w
            ctx.spend("mcentral_insert_ns")
            self.to_partial(s)
        if self.batch:
            n = min(self.batch, s.free_count())
            reserved = [s.alloc_one() for _ in range(n)]
            st.flow_cache_spans.add2(p, self.spanclass)
            st.flow_cache_objects.add2(p, self.spanclass, n)
            ctx.spend("transfer_per_object_ns", n)
            if s.free_count() == 0:
                self.to_full(s)
            w = ctx.unlock(self.lock)
            if w:
                yield from w
            return s, n, reserved
        self.to_full(s)  # the 'empty' list: owned by a cache
        n = s.free_count()
        st.flow_cache_spans.add2(p, self.spanclass)
        st.flow_cache_objects.add2(p, self.spanclass, n)
        w = ctx.unlock(self.lock)
        if w:
            yield from w
        s.in_cache = True
        return s, n, NO_RESERVED

    def _sweep_for_cache(self, ctx: Ctx, sweeper: Sweeper) -> Gen[MSpan | None]:
        """cacheSpan's sweeping: a partial unswept span, else full unswept spans
        until one has room (spanBudget 100); the full ones go to the full swept
        set. Each pop and push is a span-set operation (Go 1.15+); the locked
        design does this with its lock dropped, as Go 1.14's cacheSpan did."""
        budget = 100
        first = True
        while budget >= 0:
            if not self.locked:
                if not first:
                    w = ctx.atomic(self.spanset, "spanset_op_ns")
                    if w:
                        yield from w
            else:
                w = ctx.sync()
                if w:
                    yield from w
            first = False
            d = self.partial_unswept or self.full_unswept
            if not d:
                return None
            partial = d is self.partial_unswept
            s = d.pop_first()
            assert s is not None
            s.on_list = ""
            yield from sweeper.sweep(ctx, s, preserve=True)
            if partial or s.free_count() > 0:
                return s
            budget -= 1
            if not self.locked:
                w = ctx.atomic(self.spanset, "spanset_op_ns")
                if w:
                    yield from w
            self.to_full(s)
        return None

    def _transfer_lockfree(self, ctx: Ctx, s: MSpan) -> Gen[tuple[MSpan, int, list[int]]]:
        """A batched transfer from lock-free span sets: the span popped from the
        partial set (or fresh from grow) gives up to ``batch`` objects, then is
        pushed back, onto the partial set while it has free objects, else onto
        the full set: two span-set operations, no mutex. Between the pop and the
        push no other P can take the span; one that finds the partial set empty
        meanwhile grows a span of its own, as with Go's span sets."""
        n = min(self.batch, s.free_count())
        reserved = [s.alloc_one() for _ in range(n)]
        st = self.heap.stats
        st.flow_cache_spans.add2(ctx.p, self.spanclass)
        st.flow_cache_objects.add2(ctx.p, self.spanclass, n)
        ctx.spend("transfer_per_object_ns", n)
        w = ctx.atomic(self.spanset, "spanset_op_ns")
        if w:
            yield from w
        if s.free_count():
            self.to_partial(s)
        else:
            self.to_full(s)
        return s, n, reserved

    def uncache_span(self, ctx: Ctx, s: MSpan, *, from_refill: bool = False) -> MaybeGen:
        """mcentral.go uncacheSpan: return a span from an mcache. In the locked
        design a refill leaves the full span on the 'empty' list without taking
        the lock (Go 1.12 refill); a flush (releaseAll) takes the lock. A span
        set's atomic that waits for nothing runs without a generator (the
        caller's ``yield from`` runs what this returns)."""
        st = self.heap.stats
        st.uncache_span_calls += 1
        s.in_cache = False
        s.freeindex = 0  # as after a sweep: objects freed while cached become reusable
        if not self.locked:
            w = ctx.atomic(self.spanset, "spanset_op_ns")
            if w:
                return self._uncache_after(ctx, s, w)
            self._uncached(ctx, s)
            return ()
        if from_refill and s.free_count() == 0:
            st.flow_uncache_spans.add2(ctx.p, self.spanclass)
            return ()  # stays on the 'empty' list (Go 1.12 refill takes no lock)
        return self._uncache_locked(ctx, s)

    def _uncached(self, ctx: Ctx, s: MSpan) -> None:
        """uncacheSpan's end: the span joins the set its free objects decide."""
        if s.free_count() > 0:
            self.to_partial(s)
        else:
            self.to_full(s)
        self.heap.stats.flow_uncache_spans.add2(ctx.p, self.spanclass)

    def _uncache_after(self, ctx: Ctx, s: MSpan, w: Gen[None]) -> Gen[None]:
        yield from w
        self._uncached(ctx, s)

    def _uncache_locked(self, ctx: Ctx, s: MSpan) -> Gen[None]:
        w = ctx.lock(self.lock, "(*mcentral).uncacheSpan")
        if w:
            yield from w
        ctx.spend("mcentral_uncachespan_ns")
        self._uncached(ctx, s)
        w = ctx.unlock(self.lock)
        if w:
            yield from w

    def grow(self, ctx: Ctx) -> Gen[MSpan]:
        """mcentral.go grow: a fresh span of this class from the heap."""
        self.heap.stats.mcentral_grow_calls += 1
        # mheap.alloc's generator itself (one generator level fewer per grow)
        return self.heap.alloc(ctx, self.ps[ctx.p], self.npages, self.spanclass)
