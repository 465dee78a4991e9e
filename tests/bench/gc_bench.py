#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""CPython's side of refcache's collector benchmark (make bench).

Builds the graphs tests/bench/refcache_bench_gc.c builds in refcache,
with __slots__ classes holding the same references, and times only
gc.collect() on each (automatic collection off while building).  Run
by the guest's python3 (Debian's) in the same boot as the module;
scripts/bench.sh joins the lines of both sides.  Prints:
    cpython shape=<s> objects=<n> ns=<t> collected=<c>
    cpython young objects=2000 ns=<t>
and exits 1 if a collection finds other counts than the graph implies.

usage: gc_bench.py [objects [rounds [young_rounds]]]
       gc_bench.py --list-modules   (files of the modules it needs)
"""
import gc
import sys
import time

RING = 21
NROOTS = 16
YOUNG = 2000
RAND_SEED = 0x2545F4914F6CDD1D
MASK64 = (1 << 64) - 1


class Node:
    __slots__ = ("next", "prev")


class Pair:
    __slots__ = ("other",)


class Tree:
    __slots__ = ("left", "right")


class Rand:
    __slots__ = ("a", "b")


class Lcg:
    """The module's LCG (Knuth's MMIX constants), draw for draw."""

    def __init__(self, seed):
        self.x = seed

    def below(self, n):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) & MASK64
        return ((self.x >> 32) * n) >> 32


def build_rings(n):
    for _ in range(n // RING):
        ring = [Node() for _ in range(RING)]
        for k in range(RING):
            ring[k].next = ring[(k + 1) % RING]
            ring[k].prev = ring[k - 1]
    return None, n // RING * RING, n // RING * RING


def build_pairs(n):
    for _ in range(n // 2):
        a = Pair()
        b = Pair()
        a.other = b
        b.other = a
    return None, n // 2 * 2, n // 2 * 2


def build_tree(n):
    nodes = [Tree() for _ in range(n)]
    for i in range(n):
        if 2 * i + 1 < n:
            nodes[i].left = nodes[2 * i + 1]
        if 2 * i + 2 < n:
            nodes[i].right = nodes[2 * i + 2]
    return nodes[0], n, 0


def rand_graph(n):
    """Slot targets and roots, as rand_graph_make() in the module."""
    rng = Lcg(RAND_SEED)
    live = [rng.below(2) for _ in range(n)]
    cls = ([], [])
    for i in range(n):
        cls[live[i]].append(i)
    a = [0] * n
    for m in cls:
        for k in range(len(m) - 1, 0, -1):  # Fisher-Yates
            j = rng.below(k + 1)
            m[k], m[j] = m[j], m[k]
        for k in range(len(m)):
            a[m[k]] = m[(k + 1) % len(m)]
    nb = len(cls[1])
    live_cls = cls[1]
    b = [live_cls[rng.below(nb)] if live[i] else rng.below(n) for i in range(n)]
    roots = [live_cls[rng.below(nb)] for _ in range(NROOTS)]
    return a, b, roots


def reach_count(a, b, roots, n):
    seen = bytearray(n)
    stack = []
    for r in roots:
        if not seen[r]:
            seen[r] = 1
            stack.append(r)
    reach = 0
    while stack:
        v = stack.pop()
        reach += 1
        for w in (a[v], b[v]):
            if not seen[w]:
                seen[w] = 1
                stack.append(w)
    return reach


def build_random(n):
    a, b, roots = rand_graph(n)
    reach = reach_count(a, b, roots, n)
    nodes = [Rand() for _ in range(n)]
    for i in range(n):
        o = nodes[i]
        o.a = nodes[a[i]]
        o.b = nodes[b[i]]
    held = [nodes[r] for r in roots]
    return held, n, n - reach


SHAPES = (("rings", build_rings), ("pairs", build_pairs),
          ("tree", build_tree), ("random", build_random))


def shape_round(build, n):
    gc.collect()
    gc.disable()
    held, built, expect = build(n)
    t0 = time.perf_counter_ns()
    found = gc.collect()
    ns = time.perf_counter_ns() - t0
    del held
    gc.collect()
    return ns, built, expect, found


def young_round():
    gc.collect()
    gc.disable()
    nodes = [Tree() for _ in range(YOUNG)]
    half = YOUNG // 2
    for i in range(0, half, 2):
        nodes[i].left = nodes[i + 1]
        nodes[i + 1].left = nodes[i]
    for i in range(half):
        if 2 * i + 1 < half:
            nodes[half + i].left = nodes[half + 2 * i + 1]
        if 2 * i + 2 < half:
            nodes[half + i].right = nodes[half + 2 * i + 2]
    root = nodes[half]
    del nodes
    t0 = time.perf_counter_ns()
    found = gc.collect(0)
    ns = time.perf_counter_ns() - t0
    del root
    return ns, found


def main(argv):
    if argv[1:2] == ["--list-modules"]:
        import random  # noqa: F401 -- the guest's python offers it too
        for m in list(sys.modules.values()):
            f = getattr(m, "__file__", None)
            if f:
                print(f)
        return 0
    objects = int(argv[1]) if len(argv) > 1 else 1000000
    rounds = int(argv[2]) if len(argv) > 2 else 3
    young_rounds = int(argv[3]) if len(argv) > 3 else 21
    ok = True

    times = []
    for _ in range(young_rounds):
        ns, found = young_round()
        if found != YOUNG // 2:
            print(f"cpython young: collect(0) found {found}, expected {YOUNG // 2}")
            ok = False
        times.append(ns)
    times.sort()
    print(f"cpython young objects={YOUNG} ns={times[len(times) // 2]}", flush=True)

    for name, build in SHAPES:
        best = None
        for _ in range(rounds):
            ns, built, expect, found = shape_round(build, objects)
            if found != expect:
                print(f"cpython shape {name}: gc.collect() found {found}, expected {expect}")
                ok = False
            best = ns if best is None else min(best, ns)
        print(f"cpython shape={name} objects={built} ns={best} collected={found}", flush=True)
    gc.enable()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
