# SPDX-License-Identifier: LGPL-2.1-only OR MIT
"""refcachectl demo's story in Python: a cycle, gc.collect(), get_referrers()."""
import refcache

with refcache.Heap() as heap:
    gc = heap.gc
    gc.disable()                       # collect only when we say so
    node = heap.cache("node", payload=16, slots=2)

    x, y = node.new(), node.new()
    x.payload, y.payload = b"x", b"y"
    x[0], y[0] = y, x                  # x -> y -> x
    print("getrefcount(x) =", refcache.getrefcount(x), " # our handle and y's slot")
    print("get_referrers(x) =", gc.get_referrers(x))
    print("get_referents(x) =", gc.get_referents(x))
    w = refcache.ref(x)

    del x, y                           # close both handles
    print("after del x, y:", heap.info()["objects"], "objects alive, w() =", w())
    print("gc.collect() =", gc.collect(), " # the cycle")
    print("after collect:", heap.info()["objects"], "objects alive, w() =", w())

    gc.set_debug(refcache.DEBUG_SAVEALL)
    z = node.new()
    z[0] = z
    del z
    print("with DEBUG_SAVEALL: gc.collect() =", gc.collect(), ", gc.garbage =", list(gc.garbage))
    gc.set_debug(0)
    del gc.garbage[:]
    print("del gc.garbage[:]; gc.collect() =", gc.collect(), ", stats =", gc.get_stats()[2])
