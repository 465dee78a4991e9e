# SPDX-License-Identifier: LGPL-2.1-only OR MIT
"""refcache from Python: a ctypes binding of librefcache.so.1.

    import refcache
    with refcache.Heap() as heap:
        node = heap.cache("node", payload=16, slots=2)
        x, y = node.new(), node.new()
        x[0], y[0] = y, x            # a cycle
        del x, y                     # closes the handles
        heap.gc.collect()            # -> 2

ctypes rather than a C extension: librefcache is the stable, versioned
ABI (its symbols carry LIBREFCACHE_1.x versions), so binding it needs no
compiler, no python3-dev and no build step; the package is pure Python
and installs with pip anywhere the library is.  The price, a few hundred
nanoseconds per call, is small against an ioctl.

Errors are raised as OSError, which Python turns into its subclass for
the errno (FileNotFoundError for ENOENT, ...), with .errno set.
"""
import ctypes
import ctypes.util
import errno as _errno
import os
import select

__all__ = ["Heap", "Cache", "Object", "WeakHandle", "GC", "getrefcount", "ref",
           "DEBUG_STATS", "DEBUG_COLLECTABLE", "DEBUG_UNCOLLECTABLE",
           "DEBUG_SAVEALL", "DEBUG_LEAK"]

DEBUG_STATS = 1
DEBUG_COLLECTABLE = 2
DEBUG_UNCOLLECTABLE = 4
DEBUG_SAVEALL = 32
DEBUG_LEAK = DEBUG_COLLECTABLE | DEBUG_UNCOLLECTABLE | DEBUG_SAVEALL

CACHE_TRACKED = 1
CACHE_BIASED = 2
OBJECTS_GEN = (1, 2, 4)
OBJECTS_PERMANENT = 8
OBJECTS_UNTRACKED = 16
OBJECTS_ALL = 7
_PAGE = 256

u32, u64, c_int, c_int64 = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int, ctypes.c_int64
P64 = ctypes.POINTER(u64)


class _ObjInfo(ctypes.Structure):
    _fields_ = [("size", u32), ("flags", u32), ("handle", u64), ("refcount", u64),
                ("cache_id", u32), ("nslots", u32), ("payload_size", u32),
                ("cache_flags", u32)]


class _HeapInfo(ctypes.Structure):
    _fields_ = [("size", u32), ("flags", u32), ("heap_id", u64), ("objects", u64),
                ("bytes", u64), ("handles", u64), ("caches", u64),
                ("max_objects", u64), ("max_bytes", u64)]


class _GenStats(ctypes.Structure):
    _fields_ = [("collections", u64), ("collected", u64), ("uncollectable", u64),
                ("candidates", u64), ("pause_total_ns", u64), ("pause_max_ns", u64)]


class _GcStats(ctypes.Structure):
    _fields_ = [("size", u32), ("flags", u32), ("gen", _GenStats * 3)]


class _GcCollect(ctypes.Structure):
    _fields_ = [("size", u32), ("flags", u32), ("generation", u32), ("reserved", u32),
                ("unreachable", u64), ("collected", u64), ("uncollectable", u64)]


class _GcEvent(ctypes.Structure):
    _fields_ = [("size", u32), ("generation", u32), ("reason", u32), ("dropped", u32),
                ("seq", u64), ("candidates", u64), ("collected", u64),
                ("uncollectable", u64), ("duration_ns", u64)]


def _load():
    names = [os.environ.get("REFCACHE_LIB"), "librefcache.so.1",
             ctypes.util.find_library("refcache")]
    err = None
    for name in names:
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            err = e
    raise ImportError("refcache: cannot load librefcache.so.1 (%s); set REFCACHE_LIB" % err)


_lib = _load()


def _proto(name, restype, *args):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(args)
    return f


_open = _proto("refcache_open", c_int)
_close = _proto("refcache_close", c_int, c_int)
_cache_create = _proto("refcache_cache_create", c_int, c_int, ctypes.c_char_p, u32, u32, u32)
_cache_destroy = _proto("refcache_cache_destroy", c_int, c_int, u32)
_new = _proto("refcache_new", c_int, c_int, u32, P64)
_dup = _proto("refcache_dup", c_int, c_int, u64, P64)
_hclose = _proto("refcache_handle_close", c_int, c_int, u64)
_load_slot = _proto("refcache_load", c_int, c_int, u64, u32, P64)
_store = _proto("refcache_store", c_int, c_int, u64, u32, u64)
_read = _proto("refcache_read", c_int, c_int, u64, u32, ctypes.c_void_p, u32)
_write = _proto("refcache_write", c_int, c_int, u64, u32, ctypes.c_void_p, u32)
_info = _proto("refcache_info", c_int, c_int, u64, ctypes.POINTER(_ObjInfo))
_weak_new = _proto("refcache_weak_new", c_int, c_int, u64, P64)
_weak_upgrade = _proto("refcache_weak_upgrade", c_int, c_int, u64, P64)
_heap_info = _proto("refcache_heap_info", c_int, c_int, ctypes.POINTER(_HeapInfo))
_gc_collect_ex = _proto("refcache_gc_collect_ex", c_int, c_int, c_int, ctypes.POINTER(_GcCollect))
_gc_enable = _proto("refcache_gc_enable", c_int, c_int)
_gc_disable = _proto("refcache_gc_disable", c_int, c_int)
_gc_isenabled = _proto("refcache_gc_isenabled", c_int, c_int)
_gc_get_threshold = _proto("refcache_gc_get_threshold", c_int, c_int, ctypes.POINTER(ctypes.c_uint))
_gc_set_threshold = _proto("refcache_gc_set_threshold", c_int, c_int, ctypes.c_uint,
                           ctypes.c_uint, ctypes.c_uint)
_gc_get_count = _proto("refcache_gc_get_count", c_int, c_int, P64)
_gc_get_stats = _proto("refcache_gc_get_stats", c_int, c_int, ctypes.POINTER(_GcStats))
_gc_freeze = _proto("refcache_gc_freeze", c_int64, c_int)
_gc_unfreeze = _proto("refcache_gc_unfreeze", c_int64, c_int)
_gc_get_freeze_count = _proto("refcache_gc_get_freeze_count", c_int64, c_int)
_gc_is_tracked = _proto("refcache_gc_is_tracked", c_int, c_int, u64)
_gc_read_events = _proto("refcache_gc_read_events", c_int, c_int, ctypes.POINTER(_GcEvent),
                         ctypes.c_size_t)
_gc_get_objects = _proto("refcache_gc_get_objects", c_int, c_int, u32, P64, P64, u32)
_gc_get_referents = _proto("refcache_gc_get_referents", c_int, c_int, u64, P64, P64, u32)
_gc_get_referrers = _proto("refcache_gc_get_referrers", c_int, c_int, u64, P64, P64, u32)
_gc_get_garbage = _proto("refcache_gc_get_garbage", c_int, c_int, P64, P64, u32)
_gc_clear_garbage = _proto("refcache_gc_clear_garbage", c_int64, c_int)
_gc_garbage_count = _proto("refcache_gc_garbage_count", c_int64, c_int)
_gc_set_debug = _proto("refcache_gc_set_debug", c_int, c_int, ctypes.c_uint)
_gc_get_debug = _proto("refcache_gc_get_debug", c_int, c_int)


def _check(ret):
    """librefcache returns a negative errno: raise it as OSError (a subclass)."""
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret))
    return ret


class Heap:
    """One open file of /dev/refcache: caches, objects, handles, a collector."""

    def __init__(self):
        self.fd = _check(_open())
        self.gc = GC(self)

    def close(self):
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            _check(_close(fd))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fd(self):
        if self.fd < 0:
            raise ValueError("the heap is closed")
        return self.fd

    def cache(self, name, payload=16, slots=2, tracked=True, biased=False):
        flags = (CACHE_TRACKED if tracked else 0) | (CACHE_BIASED if biased else 0)
        cid = _check(_cache_create(self._fd(), name.encode(), payload, slots, flags))
        return Cache(self, cid, name, payload, slots)

    def info(self):
        hi = _HeapInfo(size=ctypes.sizeof(_HeapInfo))
        _check(_heap_info(self._fd(), ctypes.byref(hi)))
        return {k: getattr(hi, k) for k, _ in _HeapInfo._fields_[2:]}

    def _wrap(self, handles, n):
        return [Object(self, handles[i]) for i in range(n)]


class Cache:
    """An object type of a heap: payload bytes and reference slots per object."""

    def __init__(self, heap, cid, name, payload, slots):
        self.heap, self.id, self.name, self.payload_size, self.nslots = \
            heap, cid, name, payload, slots

    def new(self):
        h = u64()
        _check(_new(self.heap._fd(), self.id, ctypes.byref(h)))
        return Object(self.heap, h.value)

    def destroy(self):
        _check(_cache_destroy(self.heap._fd(), self.id))

    def __repr__(self):
        return "<refcache.Cache %r id=%d>" % (self.name, self.id)


class Object:
    """A strong handle: obj[i] are its slots, obj.payload its bytes."""

    __slots__ = ("heap", "handle", "__weakref__")

    def __init__(self, heap, handle):
        self.heap, self.handle = heap, handle

    def close(self):
        if self.handle and self.heap.fd >= 0:
            h, self.handle = self.handle, 0
            _check(_hclose(self.heap.fd, h))

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _info(self):
        info = _ObjInfo(size=ctypes.sizeof(_ObjInfo))
        _check(_info(self.heap._fd(), self.handle, ctypes.byref(info)))
        return info

    def __len__(self):
        return self._info().nslots

    def __getitem__(self, slot):
        h = u64()
        _check(_load_slot(self.heap._fd(), self.handle, slot, ctypes.byref(h)))
        return Object(self.heap, h.value) if h.value else None

    def __setitem__(self, slot, value):
        _check(_store(self.heap._fd(), self.handle, slot, value.handle if value else 0))

    def __delitem__(self, slot):
        self[slot] = None

    @property
    def payload(self):
        n = self._info().payload_size
        buf = ctypes.create_string_buffer(n)
        _check(_read(self.heap._fd(), self.handle, 0, buf, n))
        return buf.raw

    @payload.setter
    def payload(self, data):
        data = bytes(data)
        n = self._info().payload_size
        if len(data) > n:
            raise ValueError("payload is %d bytes" % n)
        buf = ctypes.create_string_buffer(data.ljust(n, b"\0"), n)
        _check(_write(self.heap._fd(), self.handle, 0, buf, n))

    @property
    def cache_id(self):
        return self._info().cache_id

    def dup(self):
        h = u64()
        _check(_dup(self.heap._fd(), self.handle, ctypes.byref(h)))
        return Object(self.heap, h.value)

    def __repr__(self):
        try:
            i = self._info()
            return "<refcache.Object cache=%d refcount=%d payload=%r>" % (
                i.cache_id, i.refcount, self.payload.rstrip(b"\0"))
        except (OSError, ValueError):
            return "<refcache.Object closed>"


def getrefcount(obj):
    """sys.getrefcount(): the object's references (handles and slots)."""
    return obj._info().refcount


class WeakHandle:
    """weakref.ref(obj): call it for the object, or None once it died."""

    def __init__(self, obj):
        h = u64()
        _check(_weak_new(obj.heap._fd(), obj.handle, ctypes.byref(h)))
        self.heap, self.handle = obj.heap, h.value

    def __call__(self):
        h = u64()
        ret = _weak_upgrade(self.heap._fd(), self.handle, ctypes.byref(h))
        if ret == -_errno.ENOENT:
            return None
        _check(ret)
        return Object(self.heap, h.value)

    def __del__(self):
        try:
            if self.handle and self.heap.fd >= 0:
                _hclose(self.heap.fd, self.handle)
        except Exception:
            pass


ref = WeakHandle


class _Garbage:
    """gc.garbage: the objects collections kept under DEBUG_SAVEALL."""

    def __init__(self, gc):
        self._gc = gc

    def _list(self):
        return self._gc._paged(lambda c, b: _gc_get_garbage(self._gc._fd(), c, b, _PAGE))

    def __len__(self):
        return _check(_gc_garbage_count(self._gc._fd()))

    def __iter__(self):
        return iter(self._list())

    def __getitem__(self, i):
        return self._list()[i]

    def __delitem__(self, i):
        if i != slice(None):
            raise TypeError("only del gc.garbage[:] is supported")
        self.clear()

    def clear(self):
        _check(_gc_clear_garbage(self._gc._fd()))

    def __repr__(self):
        return repr(self._list())


class GC:
    """The heap's collector, with the gc module's names and semantics."""

    DEBUG_STATS, DEBUG_COLLECTABLE, DEBUG_UNCOLLECTABLE = 1, 2, 4
    DEBUG_SAVEALL, DEBUG_LEAK = 32, DEBUG_LEAK

    def __init__(self, heap):
        self._heap = heap
        self.callbacks = []
        self.garbage = _Garbage(self)

    def _fd(self):
        return self._heap._fd()

    def _paged(self, call):
        out, cursor, buf = [], u64(0), (u64 * _PAGE)()
        while True:
            n = _check(call(ctypes.byref(cursor), buf))
            out += self._heap._wrap(buf, n)
            if not cursor.value:
                return out

    def collect(self, generation=2):
        res = _GcCollect(size=ctypes.sizeof(_GcCollect))
        _check(_gc_collect_ex(self._fd(), generation, ctypes.byref(res)))
        self.process_events()
        return res.unreachable

    def process_events(self):
        """Feed gc.callbacks from the heap's event records (explicit and automatic)."""
        ev = (_GcEvent * 64)()
        while select.select([self._fd()], [], [], 0)[0]:
            n = _check(_gc_read_events(self._fd(), ev, 64))
            for e in ev[:n]:
                info = {"generation": e.generation, "collected": e.collected,
                        "uncollectable": e.uncollectable, "candidates": e.candidates,
                        "duration": e.duration_ns / 1e9}
                for phase in ("start", "stop"):
                    for cb in list(self.callbacks):
                        cb(phase, info)

    def enable(self):
        _check(_gc_enable(self._fd()))

    def disable(self):
        _check(_gc_disable(self._fd()))

    def isenabled(self):
        return bool(_check(_gc_isenabled(self._fd())))

    def get_count(self):
        c = (u64 * 3)()
        _check(_gc_get_count(self._fd(), c))
        return tuple(c)

    def get_threshold(self):
        t = (ctypes.c_uint * 3)()
        _check(_gc_get_threshold(self._fd(), t))
        return tuple(t)

    def set_threshold(self, threshold0, threshold1=None, threshold2=None):
        t = self.get_threshold()
        _check(_gc_set_threshold(self._fd(), threshold0,
                                 t[1] if threshold1 is None else threshold1,
                                 t[2] if threshold2 is None else threshold2))

    def get_stats(self):
        st = _GcStats(size=ctypes.sizeof(_GcStats))
        _check(_gc_get_stats(self._fd(), ctypes.byref(st)))
        return [{"collections": g.collections, "collected": g.collected,
                 "uncollectable": g.uncollectable} for g in st.gen]

    def freeze(self):
        _check(_gc_freeze(self._fd()))

    def unfreeze(self):
        _check(_gc_unfreeze(self._fd()))

    def get_freeze_count(self):
        return _check(_gc_get_freeze_count(self._fd()))

    def is_tracked(self, obj):
        return bool(_check(_gc_is_tracked(self._fd(), obj.handle)))

    def get_objects(self, generation=None, untracked=False, frozen=False):
        if generation is None:
            which = OBJECTS_ALL
        elif generation in (0, 1, 2):
            which = OBJECTS_GEN[generation]
        else:
            raise ValueError("generation parameter must be between 0 and 2")
        which |= (OBJECTS_UNTRACKED if untracked else 0) | (OBJECTS_PERMANENT if frozen else 0)
        return self._paged(lambda c, b: _gc_get_objects(self._fd(), which, c, b, _PAGE))

    def get_referents(self, *objs):
        out = []
        for o in objs:
            out += self._paged(lambda c, b: _gc_get_referents(self._fd(), o.handle, c, b, _PAGE))
        return out

    def get_referrers(self, *objs):
        out = []
        for o in objs:
            out += self._paged(lambda c, b: _gc_get_referrers(self._fd(), o.handle, c, b, _PAGE))
        return out

    def set_debug(self, flags):
        _check(_gc_set_debug(self._fd(), flags))

    def get_debug(self):
        return _check(_gc_get_debug(self._fd()))
