#include "store_binding.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "buffers.h"
#include "convert.h"

namespace ckpt::py_ext {
namespace {

using StorePtr = std::shared_ptr<Store>;

// Copies of the caller's buffers' views plus what a SaveRequest borrows.
struct BuiltRequest {
  SaveRequest req;
  std::vector<HeldBuffer> held;
};

// A tensor `k` from `v` (a buffer), its dtype from the buffer's format or
// `dtypes` ({name: "BF16"}, for types NumPy lacks). REQUIRES: b.held has
// room (its buffers are borrowed by address).
TensorView ViewOf(BuiltRequest& b, const py::handle& k, const py::handle& v,
                  const py::dict& dtypes) {
  std::string name = py::cast<std::string>(k);
  HeldBuffer& buf = b.held.emplace_back(v, "tensor '" + name + "'");
  std::optional<DType> dtype;
  if (dtypes.contains(k)) {
    std::string dn = py::cast<std::string>(dtypes[k]);
    dtype = DTypeFromName(dn);
    if (!dtype) throw py::value_error("tensor '" + name + "': unknown dtype '" + dn + "'");
    if (DTypeSize(*dtype) != static_cast<size_t>(buf.view().itemsize)) {
      throw py::value_error("tensor '" + name + "': dtype " + dn + " has elements of " +
                            std::to_string(DTypeSize(*dtype)) + " bytes, the buffer's are " +
                            std::to_string(buf.view().itemsize));
    }
  } else {
    dtype = DTypeOfBuffer(buf.view());
    if (!dtype) {
      throw py::value_error("tensor '" + name + "': unsupported element format '" +
                            std::string(buf.view().format ? buf.view().format : "?") +
                            "' (ckpt stores bool, (u)int8..64, float16/32/64, little-endian)");
    }
  }
  TensorView t;
  t.name = std::move(name);
  t.dtype = *dtype;
  for (int i = 0; i < buf.view().ndim; ++i) t.shape.push_back(buf.view().shape[i]);
  t.data = buf.data();
  t.size = buf.size();
  return t;
}

// tensors: {name: buffer}; pieces: [(name, buffer, global_shape, offsets)];
// blobs: {name: buffer}; dtypes: {name: "BF16"} overrides the dtype read
// from a buffer's format (for types NumPy lacks); local: names private to
// this rank.
BuiltRequest BuildRequest(const std::string& run, uint64_t step, const py::dict& tensors,
                          const py::list& pieces, const py::dict& blobs, const py::dict& metrics,
                          const py::dict& attrs, const std::string& parent,
                          const py::set& unchanged, const py::dict& dtypes, const py::set& local,
                          uint32_t rank, uint32_t world_size) {
  BuiltRequest b;
  b.req.run = run;
  b.req.step = step;
  b.req.parent = parent;
  b.req.rank = rank;
  b.req.world_size = world_size;
  b.held.reserve(tensors.size() + pieces.size() + blobs.size());
  for (auto [k, v] : tensors) {
    TensorView t = ViewOf(b, k, v, dtypes);
    t.unchanged_since_parent = unchanged.contains(k);
    t.rank_local = local.contains(k);
    b.req.tensors.push_back(std::move(t));
  }
  for (auto item : pieces) {
    auto piece = py::cast<py::tuple>(item);
    TensorView t = ViewOf(b, piece[0], piece[1], dtypes);
    t.global_shape = py::cast<std::vector<int64_t>>(piece[2]);
    t.offsets = py::cast<std::vector<int64_t>>(piece[3]);
    t.unchanged_since_parent = unchanged.contains(piece[0]);
    b.req.tensors.push_back(std::move(t));
  }
  for (auto [k, v] : blobs) {
    std::string name = py::cast<std::string>(k);
    HeldBuffer& buf = b.held.emplace_back(v, "blob '" + name + "'");
    BlobView blob{std::move(name), buf.data(), buf.size()};
    blob.rank_local = local.contains(k);
    b.req.blobs.push_back(std::move(blob));
  }
  for (auto [k, v] : metrics) b.req.meta.metrics[py::cast<std::string>(k)] = py::cast<double>(v);
  for (auto [k, v] : attrs) {
    b.req.meta.attributes[py::cast<std::string>(k)] = py::cast<std::string>(v);
  }
  return b;
}

// Entry `name` of the checkpoint `reader` holds (`ref`, for the message).
const EntryInfo* FindEntry(const CheckpointReader& reader, const std::string& ref,
                           const std::string& name) {
  for (const EntryInfo& e : reader.detail().entries)
    if (e.name == name) return &e;
  throw StatusError(Status::NotFound("no entry '" + name + "' in " + ref));
}

// A Python progress callback for a call that outlives none of it. The
// ProgressFn holds only a pointer, so the library may copy it on threads
// that do not hold the GIL; the first exception the callback raises is kept
// and raised once the call returns.
struct PyCallback {
  explicit PyCallback(py::object f) : fn(std::move(f)) {}
  py::object fn;
  std::optional<py::error_already_set> error;

  ProgressFn Fn() {
    return [this](uint64_t done, uint64_t total) {
      py::gil_scoped_acquire gil;
      if (error) return;
      try {
        fn(done, total);
      } catch (py::error_already_set& e) {
        error.emplace(std::move(e));
      }
    };
  }
  void Rethrow() {
    if (error) throw std::move(*error);
  }
};

// Runs `f` (returning a Result) without the GIL and unwraps it.
template <typename F>
auto Unlocked(F&& f) {
  auto r = [&] {
    py::gil_scoped_release nogil;
    return f();
  }();
  return Take(std::move(r));
}
template <typename F>
void CheckUnlocked(F&& f) {
  Status st = [&] {
    py::gil_scoped_release nogil;
    return f();
  }();
  Check(st);
}

class PyStore {
 public:
  PyStore(const std::string& path, const py::dict& opts) {
    StoreOptions o;
    for (auto [k, v] : opts) {
      const std::string key = py::cast<std::string>(k);
      if (key == "create")
        o.create_if_missing = py::cast<bool>(v);
      else if (key == "error_if_exists")
        o.error_if_exists = py::cast<bool>(v);
      else if (key == "read_only")
        o.read_only = py::cast<bool>(v);
      else if (key == "chunk_size")
        o.chunk_size = py::cast<uint32_t>(v);
      else if (key == "zstd_level")
        o.zstd_level = py::cast<int>(v);
      else if (key == "delta_max_depth")
        o.delta_max_depth = py::cast<int>(v);
      else if (key == "pack_target_size")
        o.pack_target_size = py::cast<uint64_t>(v);
      else if (key == "threads")
        o.threads = py::cast<int>(v);
      else if (key == "lock_timeout_ms")
        o.lock_timeout_ms = py::cast<int64_t>(v);
      else if (key == "gc_every_saves")
        o.gc_every_saves = py::cast<uint32_t>(v);
      else if (key == "auto_gc_grace_seconds")
        o.auto_gc_grace_seconds = py::cast<int64_t>(v);
      else if (key == "async_staging_bytes")
        o.async_staging_bytes = py::cast<uint64_t>(v);
      else if (key == "cache_dir")
        o.cache_dir = py::cast<std::string>(v);
      else
        throw py::type_error("unknown store option '" + key + "'");
    }
    Result<std::unique_ptr<Store>> r = [&] {
      py::gil_scoped_release nogil;
      return Store::Open(o, path);
    }();
    store_ = StorePtr(Take(std::move(r)).release());
  }

  // Drops this handle's reference; a call still running on another thread
  // keeps the Store alive until it returns. Waits for queued async saves.
  void Close() {
    StorePtr s = std::move(store_);
    py::gil_scoped_release nogil;
    s.reset();
  }
  bool closed() const { return store_ == nullptr; }

  StorePtr Get() const {
    if (!store_) throw py::value_error("operation on a closed ckpt.Store");
    return store_;
  }

  py::dict Config() const { return ToDict(Get()->config()); }

  py::dict Save(const std::string& run, uint64_t step, const py::dict& tensors,
                const py::list& pieces, const py::dict& blobs, const py::dict& metrics,
                const py::dict& attrs, const std::string& parent, const py::set& unchanged,
                const py::dict& dtypes, const py::set& local, uint32_t rank, uint32_t world_size,
                const py::object& progress) {
    StorePtr s = Get();
    BuiltRequest b = BuildRequest(run, step, tensors, pieces, blobs, metrics, attrs, parent,
                                  unchanged, dtypes, local, rank, world_size);
    SaveOptions options;
    PyCallback cb(progress);
    if (!progress.is_none()) options.progress = cb.Fn();
    Result<CheckpointInfo> r = [&] {
      py::gil_scoped_release nogil;
      return s->Save(b.req, options);
    }();
    cb.Rethrow();
    return ToDict(Take(std::move(r)));
  }

  SaveHandle SaveAsync(const std::string& run, uint64_t step, const py::dict& tensors,
                       const py::list& pieces, const py::dict& blobs, const py::dict& metrics,
                       const py::dict& attrs, const std::string& parent, const py::set& unchanged,
                       const py::dict& dtypes, const py::set& local, uint32_t rank,
                       uint32_t world_size) {
    StorePtr s = Get();
    BuiltRequest b = BuildRequest(run, step, tensors, pieces, blobs, metrics, attrs, parent,
                                  unchanged, dtypes, local, rank, world_size);
    Result<SaveHandle> r = [&] {
      py::gil_scoped_release nogil;
      return s->SaveAsync(b.req);
    }();
    return Take(std::move(r));
  }

  // Returns (info, entries, {name: array or bytes}); decodes straight into
  // freshly allocated arrays, all whole entries in one parallel pass, with
  // the GIL released. rank >= 0: only that rank's rank-local entries, under
  // their own names; boxes: {name: (offsets, shape)} reads only that box of
  // a tensor.
  py::tuple Load(const std::string& ref, int64_t rank, const py::dict& boxes) {
    StorePtr s = Get();
    std::unique_ptr<CheckpointReader> reader = OpenReader(s, ref);
    const CheckpointDetail& detail = reader->detail();
    py::dict out;
    py::list entries;
    std::vector<EntryBuffer> buffers;
    struct BoxRead {
      std::string name;
      std::vector<int64_t> offsets, shape;
      void* dst;
      size_t size;
    };
    std::vector<BoxRead> box_reads;
    const std::string own_prefix = "rank" + std::to_string(rank) + "/";
    for (const EntryInfo& e : detail.entries) {
      std::string key = e.name;
      if (e.local_rank >= 0 && rank >= 0) {
        if (e.local_rank != rank) continue;
        key = e.name.substr(own_prefix.size());
      }
      void* dst = nullptr;
      py::dict info = ToDict(e);
      info["name"] = key;
      if (e.is_blob) {
        PyObject* raw = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(e.byte_length));
        if (!raw) throw py::error_already_set();
        auto b = py::reinterpret_steal<py::bytes>(raw);
        dst = PyBytes_AS_STRING(raw);
        out[py::str(key)] = b;
      } else if (boxes.contains(key)) {
        auto box =
            py::cast<std::pair<std::vector<int64_t>, std::vector<int64_t>>>(boxes[py::str(key)]);
        py::array a(NumpyDType(e.dtype), box.second);
        box_reads.push_back(
            {e.name, box.first, box.second, a.mutable_data(), static_cast<size_t>(a.nbytes())});
        info["shape"] = py::tuple(py::cast(box.second));
        out[py::str(key)] = a;
        entries.append(info);
        continue;
      } else {
        py::array a(NumpyDType(e.dtype), e.shape);
        dst = a.mutable_data();
        out[py::str(key)] = a;
      }
      entries.append(info);
      buffers.push_back({e.name, dst, static_cast<size_t>(e.byte_length)});
    }
    Status st = [&] {
      py::gil_scoped_release nogil;
      Status status = reader->ReadEntries(buffers);
      for (const BoxRead& b : box_reads) {
        if (!status.ok()) break;
        status = reader->ReadBox(b.name, b.offsets, b.shape, b.dst, b.size);
      }
      return status;
    }();
    Check(st);
    return py::make_tuple(ToDict(detail.info), entries, out);
  }

  // Reads box (offsets, shape) of tensor `name` of `ref` into a new array.
  py::array TensorBox(const std::string& ref, const std::string& name,
                      const std::vector<int64_t>& offsets, const std::vector<int64_t>& shape) {
    StorePtr s = Get();
    std::unique_ptr<CheckpointReader> reader = OpenReader(s, ref);
    const EntryInfo* entry = FindEntry(*reader, ref, name);
    if (entry->is_blob) throw py::value_error("'" + name + "' is a blob; a box needs a tensor");
    for (int64_t d : shape)
      if (d < 0) throw py::value_error("box shape must be non-negative");
    py::array a(NumpyDType(entry->dtype), shape);
    void* dst = a.mutable_data();
    const size_t size = static_cast<size_t>(a.nbytes());
    Status st = [&] {
      py::gil_scoped_release nogil;
      return reader->ReadBox(name, offsets, shape, dst, size);
    }();
    Check(st);
    return a;
  }

  // Loads one tensor into `out` (a writable C-contiguous buffer of the
  // entry's byte length) or into a new array, which it returns.
  py::object Tensor(const std::string& ref, const std::string& name, py::object out) {
    StorePtr s = Get();
    std::unique_ptr<CheckpointReader> reader = OpenReader(s, ref);
    const EntryInfo* entry = FindEntry(*reader, ref, name);
    py::object result = out;
    std::optional<HeldBuffer> buf;
    void* dst = nullptr;
    if (out.is_none()) {
      py::array a(entry->is_blob ? py::dtype("uint8") : NumpyDType(entry->dtype),
                  entry->is_blob ? std::vector<int64_t>{static_cast<int64_t>(entry->byte_length)}
                                 : entry->shape);
      dst = a.mutable_data();
      result = a;
    } else {
      buf.emplace(out, "out", /*writable=*/true);
      if (buf->size() != entry->byte_length) {
        throw py::value_error("out holds " + std::to_string(buf->size()) + " bytes, entry '" +
                              name + "' has " + std::to_string(entry->byte_length));
      }
      dst = buf->data();
    }
    Status st = [&] {
      py::gil_scoped_release nogil;
      return reader->ReadEntry(name, dst, entry->byte_length);
    }();
    Check(st);
    return result;
  }

  py::bytes ReadRange(const std::string& ref, const std::string& name, uint64_t offset,
                      uint64_t length) {
    StorePtr s = Get();
    PyObject* raw = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(length));
    if (!raw) throw py::error_already_set();
    auto b = py::reinterpret_steal<py::bytes>(raw);
    Status st = [&] {
      py::gil_scoped_release nogil;
      return s->LoadRange(ref, name, offset, length, PyBytes_AS_STRING(raw));
    }();
    Check(st);
    return b;
  }

  py::list Log(const std::string& run) {
    StorePtr s = Get();
    auto r = Unlocked([&] { return s->ListCheckpoints(run); });
    py::list l;
    for (const CheckpointInfo& i : r) l.append(ToDict(i));
    return l;
  }

  py::list Runs() {
    StorePtr s = Get();
    auto r = Unlocked([&] { return s->ListRuns(); });
    py::list l;
    for (const RunInfo& i : r) l.append(ToDict(i));
    return l;
  }

  py::tuple Show(const std::string& ref) {
    StorePtr s = Get();
    CheckpointDetail d = Unlocked([&] { return s->Describe(ref); });
    py::list entries;
    for (const EntryInfo& e : d.entries) entries.append(ToDict(e));
    return py::make_tuple(ToDict(d.info), entries);
  }

  // Compares the values of the tensors of `from` and `to` (see
  // ckpt/value_diff.h), without the GIL.
  py::dict DiffValues(const std::string& from, const std::string& to) {
    StorePtr s = Get();
    return ToDict(Unlocked([&] { return ckpt::DiffValues(*s, from, to); }));
  }

  void Tag(const std::string& ref, const std::string& tag) {
    StorePtr s = Get();
    CheckUnlocked([&] { return s->Tag(ref, tag); });
  }
  void Untag(const std::string& tag) {
    StorePtr s = Get();
    CheckUnlocked([&] { return s->Untag(tag); });
  }
  void Delete(const std::string& ref) {
    StorePtr s = Get();
    CheckUnlocked([&] { return s->Delete(ref); });
  }

  void SetPolicy(const std::string& run, const py::dict& rules) {
    StorePtr s = Get();
    RetentionPolicy p = PolicyFromDict(rules);
    CheckUnlocked([&] { return s->SetPolicy(run, p); });
  }
  void UnsetPolicy(const std::string& run) {
    StorePtr s = Get();
    CheckUnlocked([&] { return s->UnsetPolicy(run); });
  }
  py::dict GetPolicy(const std::string& run) {
    StorePtr s = Get();
    return ToDict(Unlocked([&] { return s->GetPolicy(run); }));
  }

  py::dict Gc(bool dry_run, const std::string& run, py::object policy, double repack_threshold,
              int64_t grace_seconds, uint64_t log_snapshot_records) {
    StorePtr s = Get();
    GcOptions o;
    o.dry_run = dry_run;
    o.run = run;
    if (!policy.is_none()) o.policy = PolicyFromDict(policy.cast<py::dict>());
    o.repack_threshold = repack_threshold;
    o.grace_seconds = grace_seconds;
    o.log_snapshot_records = log_snapshot_records;
    return ToDict(Unlocked([&] { return s->Gc(o); }));
  }

  py::dict Verify(bool read_data) {
    StorePtr s = Get();
    VerifyOptions o;
    o.read_data = read_data;
    return ToDict(Unlocked([&] { return s->Verify(o); }));
  }

  py::dict Stats() {
    StorePtr s = Get();
    return ToDict(Unlocked([&] { return s->Stats(); }));
  }

 private:
  static std::unique_ptr<CheckpointReader> OpenReader(const StorePtr& s, const std::string& ref) {
    return Unlocked([&] { return s->OpenCheckpoint(ref); });
  }

  StorePtr store_;
};

}  // namespace

void BindStore(py::module_& m) {
  py::class_<SaveHandle>(m, "_SaveHandle")
      .def("ready", &SaveHandle::Ready)
      .def("wait", [](const SaveHandle& h) {
        Result<CheckpointInfo> r = [&] {
          py::gil_scoped_release nogil;
          return h.Wait();
        }();
        return ToDict(Take(std::move(r)));
      });

  py::class_<PyStore>(m, "_Store")
      .def(py::init<const std::string&, const py::dict&>(), py::arg("path"), py::arg("options"))
      .def("close", &PyStore::Close)
      .def_property_readonly("closed", &PyStore::closed)
      .def("config", &PyStore::Config)
      .def("save", &PyStore::Save)
      .def("save_async", &PyStore::SaveAsync)
      .def("load", &PyStore::Load)
      .def("tensor_box", &PyStore::TensorBox)
      .def("tensor", &PyStore::Tensor)
      .def("read_range", &PyStore::ReadRange)
      .def("log", &PyStore::Log)
      .def("runs", &PyStore::Runs)
      .def("show", &PyStore::Show)
      .def("diff_values", &PyStore::DiffValues)
      .def("tag", &PyStore::Tag)
      .def("untag", &PyStore::Untag)
      .def("rm", &PyStore::Delete)
      .def("set_policy", &PyStore::SetPolicy)
      .def("unset_policy", &PyStore::UnsetPolicy)
      .def("get_policy", &PyStore::GetPolicy)
      .def("gc", &PyStore::Gc)
      .def("verify", &PyStore::Verify)
      .def("stats", &PyStore::Stats);
}

}  // namespace ckpt::py_ext
