# SPDX-License-Identifier: LGPL-2.1-only OR MIT
"""unittest suite of the refcache package; needs /dev/refcache (the qemu guest)."""
import errno
import unittest

import refcache


class HeapTest(unittest.TestCase):
    def setUp(self):
        self.heap = refcache.Heap()
        self.gc = self.heap.gc
        self.gc.disable()
        self.node = self.heap.cache("node", payload=16, slots=2)

    def tearDown(self):
        self.heap.close()

    def test_objects_slots_payload(self):
        a, b = self.node.new(), self.node.new()
        a.payload = b"a"
        self.assertEqual(a.payload, b"a" + b"\0" * 15)
        self.assertIsNone(a[0])
        a[0] = b
        self.assertEqual(refcache.getrefcount(b), 2)
        self.assertEqual(a[0].payload, b.payload)
        del a[0]
        self.assertEqual(refcache.getrefcount(b), 1)
        self.assertEqual(len(a), 2)

    def test_weak_handle(self):
        x = self.node.new()
        w = refcache.ref(x)
        self.assertIsNotNone(w())
        x.close()
        self.assertIsNone(w())

    def test_errors_are_oserror_subclasses(self):
        a = self.node.new()
        with self.assertRaises(OSError) as cm:
            a[2] = None                 # no slot 2
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(FileNotFoundError):
            self.node.__class__(self.heap, 12345, "x", 0, 0).new()
        with self.assertRaises(OSError) as cm:
            self.heap.cache("bad name")
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_cycle_collect_referrers(self):
        x, y = self.node.new(), self.node.new()
        x.payload, y.payload = b"x", b"y"
        x[0], y[0] = y, x
        refs = self.gc.get_referrers(x)
        self.assertEqual([r.payload[:1] for r in refs], [b"y"])
        self.assertEqual([r.payload[:1] for r in self.gc.get_referents(x)], [b"y"])
        del refs
        x.close()
        y.close()
        self.assertEqual(self.heap.info()["objects"], 2)
        self.assertEqual(self.gc.collect(), 2)
        self.assertEqual(self.heap.info()["objects"], 0)

    def test_gc_module_functions(self):
        self.assertFalse(self.gc.isenabled())
        self.gc.enable()
        self.assertTrue(self.gc.isenabled())
        self.gc.disable()
        self.gc.set_threshold(100, 5, 5)
        self.assertEqual(self.gc.get_threshold(), (100, 5, 5))
        a = self.node.new()
        self.assertEqual(self.gc.get_count()[0], 1)
        self.assertTrue(self.gc.is_tracked(a))
        p = self.heap.cache("plain", tracked=False).new()
        self.assertFalse(self.gc.is_tracked(p))
        self.gc.collect(0)
        self.assertEqual(self.gc.get_stats()[0]["collections"], 1)
        self.gc.freeze()
        self.assertEqual(self.gc.get_freeze_count(), 1)
        self.assertEqual(len(self.gc.get_objects()), 0)
        self.assertEqual(len(self.gc.get_objects(frozen=True)), 1)
        self.gc.unfreeze()
        self.assertEqual(len(self.gc.get_objects(2)), 1)
        self.assertEqual(len(self.gc.get_objects(untracked=True)), 2)

    def test_garbage_saveall(self):
        self.gc.set_debug(refcache.DEBUG_SAVEALL)
        self.assertEqual(self.gc.get_debug(), refcache.DEBUG_SAVEALL)
        x = self.node.new()
        x[0] = x
        x.close()
        self.assertEqual(self.gc.collect(), 1)
        self.assertEqual(len(self.gc.garbage), 1)
        self.assertEqual(len(list(self.gc.garbage)), 1)
        self.gc.set_debug(0)
        del self.gc.garbage[:]
        self.assertEqual(len(self.gc.garbage), 0)
        self.assertEqual(self.gc.collect(), 1)

    def test_callbacks(self):
        seen = []
        self.gc.callbacks.append(lambda phase, info: seen.append((phase, info["collected"])))
        x = self.node.new()
        x[0] = x
        x.close()
        self.gc.collect()
        self.assertEqual(seen, [("start", 1), ("stop", 1)])

    def test_context_manager_closes(self):
        with refcache.Heap() as h:
            fd = h.fd
            self.assertGreaterEqual(fd, 0)
        self.assertEqual(h.fd, -1)
        with self.assertRaises(ValueError):
            h.cache("late")


if __name__ == "__main__":
    unittest.main()
