// tiercache._l1: a CPython extension that reads the sidecar's shared-memory L1 directly, with
// the same lock-free reader as the sidecar itself (l1, OpenMode::kReader). A process
// on the sidecar's host reads a cached value in well under a microsecond instead of a socket
// round trip; misses, writes and everything else still go through the sidecar's socket.
//
//   r = Reader("default", max_staleness_ms=1000)   # /dev/shm/tiercache-default; OSError if
//                                                # there is no such segment with a live owner
//   r.get(db, key[, absent]) -> bytes | None     # key: bytes or str (UTF-8); a key L1 knows
//   r.get_many(db, keys[, absent]) -> list       # is absent (a negative entry) gives `absent`
//                                                 # (default None, as a miss)
//   r.get_checked(db, key, absent, rejected)      # get, and for a tagged entry
//     -> bytes | (value, expires_at) | absent | rejected | None     (l1/tagged_entry.h): its
//        tags' tokens looked up in L1 too; (value bytes, expires_at or None) if all equal the
//        entry's, `rejected` if one differs, is not in L1 or the entry is malformed
//   r.serving -> bool                             # False: every get misses (no live sidecar,
//                                                 # or it has not vouched for L1 lately)
//   r.detached -> bool                            # the name now holds another segment (or
//                                                 # none): open a new Reader
//   r.stats() -> dict                             # the segment's counters
//
// The GIL is held throughout: a lookup is shorter than releasing and taking it again.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "l1/store.h"
#include "l1/tagged_entry.h"

namespace {

constexpr long long kMaxStalenessMs = 3600 * 1000;  // an hour: anything longer is a mistake

using tiercache::l1::GetResult;
using tiercache::l1::OpenMode;
using tiercache::l1::Store;

struct ReaderObject {
  PyObject_HEAD Store* store;
  std::string* scratch;
  std::string* tag_scratch;  // a tag's token, while scratch holds the entry
};

void reader_dealloc(ReaderObject* self) {
  delete self->store;
  delete self->scratch;
  delete self->tag_scratch;
  PyTypeObject* type = Py_TYPE(self);
  reinterpret_cast<freefunc>(PyType_GetSlot(type, Py_tp_free))(self);
  Py_DECREF(type);  // heap type: instances hold a reference
}

int reader_init(ReaderObject* self, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"name", "max_staleness_ms", nullptr};
  const char* name = nullptr;
  long long max_staleness_ms = 1000;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|L", const_cast<char**>(kwlist), &name,
                                   &max_staleness_ms)) {
    return -1;
  }
  if (max_staleness_ms < 1 || max_staleness_ms > kMaxStalenessMs) {
    PyErr_Format(PyExc_ValueError, "max_staleness_ms must be 1..%lld, not %lld", kMaxStalenessMs,
                 max_staleness_ms);
    return -1;
  }
  try {  // no C++ exception may cross into the interpreter
    tiercache::l1::Options o;
    o.name = name;
    o.mode = OpenMode::kReader;
    o.reader_max_staleness_ms = static_cast<uint64_t>(max_staleness_ms);
    std::string error;
    std::unique_ptr<Store> store = Store::open(o, &error);
    if (!store) {
      PyErr_Format(PyExc_OSError, "tiercache L1 segment '%s': %s", name, error.c_str());
      return -1;
    }
    if (self->scratch == nullptr) self->scratch = new std::string();
    if (self->tag_scratch == nullptr) self->tag_scratch = new std::string();
    delete self->store;
    self->store = store.release();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
    return -1;
  }
  return 0;
}

bool ensure_open(ReaderObject* self) {
  if (self->store != nullptr) return true;
  PyErr_SetString(PyExc_ValueError, "Reader is closed");
  return false;
}

// The key's bytes: a bytes object as it is, a str as UTF-8 (what redis-py sends).
bool key_view(PyObject* key, std::string_view* out) {
  if (PyBytes_Check(key)) {
    *out = std::string_view(PyBytes_AS_STRING(key), static_cast<size_t>(PyBytes_GET_SIZE(key)));
    return true;
  }
  if (PyUnicode_Check(key)) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(key, &n);
    if (s == nullptr) return false;
    *out = std::string_view(s, static_cast<size_t>(n));
    return true;
  }
  PyErr_Format(PyExc_TypeError, "key must be bytes or str, not %.100s", Py_TYPE(key)->tp_name);
  return false;
}

bool db_arg(PyObject* obj, uint32_t* db) {
  const long v = PyLong_AsLong(obj);
  if (v == -1 && PyErr_Occurred()) return false;
  if (v < 0 || v > 255) {
    PyErr_SetString(PyExc_ValueError, "db must be 0..255");
    return false;
  }
  *db = static_cast<uint32_t>(v);
  return true;
}

// get_checked's answer for a tagged entry in scratch: every tag's token must be in L1 and
// equal the one the entry was stored with.
PyObject* checked_entry(ReaderObject* self, uint32_t db, PyObject* rejected) {
  using namespace tiercache::l1;
  TaggedEntry e;
  if (!parse_tagged_entry(*self->scratch, &e)) {
    Py_INCREF(rejected);
    return rejected;
  }
  std::string_view tags = e.tag_bytes, key, token;
  while (next_tag(&tags, &key, &token)) {
    if (self->store->get(db, key, self->tag_scratch, nullptr) != GetResult::kHit ||
        *self->tag_scratch != token) {
      Py_INCREF(rejected);
      return rejected;
    }
  }
  PyObject* value =
      PyBytes_FromStringAndSize(e.value.data(), static_cast<Py_ssize_t>(e.value.size()));
  if (value == nullptr) return nullptr;
  if (!e.expires_at) return Py_BuildValue("(NO)", value, Py_None);
  return Py_BuildValue("(Nd)", value, *e.expires_at);
}

// New reference: the value as bytes, `absent` for a negative entry, or None on a miss;
// nullptr with an exception set. With `rejected` (get_checked), a tagged entry's answer is
// checked_entry's.
PyObject* lookup(ReaderObject* self, uint32_t db, PyObject* key, PyObject* absent,
                 PyObject* rejected = nullptr) {
  std::string_view k;
  if (!key_view(key, &k)) return nullptr;
  try {
    switch (self->store->get(db, k, self->scratch, nullptr)) {
      case GetResult::kHit:
        break;
      case GetResult::kAbsent:
        Py_INCREF(absent);
        return absent;
      case GetResult::kMiss:
        Py_RETURN_NONE;
    }
    if (rejected != nullptr && tiercache::l1::is_tagged_entry(*self->scratch))
      return checked_entry(self, db, rejected);
  } catch (const std::bad_alloc&) {  // resizing a value buffer
    return PyErr_NoMemory();
  }
  return PyBytes_FromStringAndSize(self->scratch->data(),
                                   static_cast<Py_ssize_t>(self->scratch->size()));
}

PyObject* reader_get(ReaderObject* self, PyObject* const* args, Py_ssize_t nargs) {
  uint32_t db = 0;
  if (nargs != 2 && nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "get(db, key[, absent]) takes two or three arguments");
    return nullptr;
  }
  if (!ensure_open(self) || !db_arg(args[0], &db)) return nullptr;
  return lookup(self, db, args[1], nargs == 3 ? args[2] : Py_None);
}

PyObject* reader_get_many(ReaderObject* self, PyObject* const* args, Py_ssize_t nargs) {
  uint32_t db = 0;
  if (nargs != 2 && nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "get_many(db, keys[, absent]) takes two or three arguments");
    return nullptr;
  }
  PyObject* absent = nargs == 3 ? args[2] : Py_None;
  if (!ensure_open(self) || !db_arg(args[0], &db)) return nullptr;
  PyObject* seq = PySequence_Fast(args[1], "keys must be a sequence");
  if (seq == nullptr) return nullptr;
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  PyObject* out = PyList_New(n);
  if (out == nullptr) {
    Py_DECREF(seq);
    return nullptr;
  }
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* v = lookup(self, db, PySequence_Fast_GET_ITEM(seq, i), absent);
    if (v == nullptr) {
      Py_DECREF(out);
      Py_DECREF(seq);
      return nullptr;
    }
    PyList_SET_ITEM(out, i, v);
  }
  Py_DECREF(seq);
  return out;
}

PyObject* reader_get_checked(ReaderObject* self, PyObject* const* args, Py_ssize_t nargs) {
  uint32_t db = 0;
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "get_checked(db, key, absent, rejected) takes four arguments");
    return nullptr;
  }
  if (!ensure_open(self) || !db_arg(args[0], &db)) return nullptr;
  return lookup(self, db, args[1], args[2], args[3]);
}

PyObject* reader_detached(ReaderObject* self, void*) {
  if (!ensure_open(self)) return nullptr;
  return PyBool_FromLong(self->store->detached() ? 1 : 0);
}

PyObject* reader_serving(ReaderObject* self, void*) {
  if (!ensure_open(self)) return nullptr;
  return PyBool_FromLong(self->store->serving() ? 1 : 0);
}

PyObject* reader_stats(ReaderObject* self, PyObject*) {
  if (!ensure_open(self)) return nullptr;
  const tiercache::l1::Stats s = self->store->stats();
  return Py_BuildValue(
      "{sKsKsKsKsKsKsKsKsKsKsK}", "items", static_cast<unsigned long long>(s.items), "bytes_used",
      static_cast<unsigned long long>(s.bytes_used), "capacity_bytes",
      static_cast<unsigned long long>(s.capacity_bytes), "hits",
      static_cast<unsigned long long>(s.hits), "misses", static_cast<unsigned long long>(s.misses),
      "reader_hits", static_cast<unsigned long long>(s.reader_hits), "reader_misses",
      static_cast<unsigned long long>(s.reader_misses), "reader_negative_hits",
      static_cast<unsigned long long>(s.reader_negative_hits), "reader_stale_hits",
      static_cast<unsigned long long>(s.reader_stale_hits), "evictions",
      static_cast<unsigned long long>(s.evictions), "flushes",
      static_cast<unsigned long long>(s.flushes));
}

PyObject* reader_close(ReaderObject* self, PyObject*) {
  delete self->store;
  self->store = nullptr;
  Py_RETURN_NONE;
}

PyMethodDef reader_methods[] = {
    {"get", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(reader_get)), METH_FASTCALL,
     "get(db, key[, absent]) -> bytes, absent or None: the value if L1 holds it and may serve "
     "it, `absent` if L1 knows the key does not exist, else None"},
    {"get_many", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(reader_get_many)),
     METH_FASTCALL, "get_many(db, keys[, absent]) -> list of get's answers, in the order of keys"},
    {"get_checked", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(reader_get_checked)),
     METH_FASTCALL,
     "get_checked(db, key, absent, rejected) -> get's answer, or for a tagged entry "
     "(value, expires_at) if its tags' tokens in L1 all equal its own, else `rejected`"},
    {"stats", reinterpret_cast<PyCFunction>(reader_stats), METH_NOARGS, "the segment's counters"},
    {"close", reinterpret_cast<PyCFunction>(reader_close), METH_NOARGS, "unmap the segment"},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef reader_getset[] = {
    {"serving", reinterpret_cast<getter>(reader_serving), nullptr,
     "False while every get misses: no sidecar has the segment in use, or it has not vouched "
     "for it within max_staleness_ms (dead, hung, or its invalidation bus is behind)",
     nullptr},
    {"detached", reinterpret_cast<getter>(reader_detached), nullptr,
     "True if the segment's name now holds another segment or none: open a new Reader", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyType_Slot reader_slots[] = {
    {Py_tp_doc,
     const_cast<char*>("Reader(name, max_staleness_ms=1000): lock-free reader of an L1 segment")},
    {Py_tp_new, reinterpret_cast<void*>(PyType_GenericNew)},
    {Py_tp_init, reinterpret_cast<void*>(reader_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(reader_dealloc)},
    {Py_tp_methods, reader_methods},
    {Py_tp_getset, reader_getset},
    {0, nullptr},
};

PyType_Spec reader_spec = {"tiercache._l1.Reader", sizeof(ReaderObject), 0, Py_TPFLAGS_DEFAULT,
                           reader_slots};

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_l1",
    "Direct, lock-free reads of a tiercache sidecar's shared-memory L1.",
    -1,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

}  // namespace

PyMODINIT_FUNC PyInit__l1() {
  PyObject* m = PyModule_Create(&module_def);
  if (m == nullptr) return nullptr;
  PyObject* type = PyType_FromSpec(&reader_spec);
  if (type == nullptr || PyModule_AddObject(m, "Reader", type) < 0) {
    Py_XDECREF(type);
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
