#include "convert.h"

#include <pybind11/stl.h>

namespace ckpt::py_ext {

void RegisterStatusTranslator() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const py::cast_error& e) {
      // A value of the wrong type reached the binding: a TypeError, as for
      // any Python call, not pybind11's default RuntimeError.
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const StatusError& e) {
      const Status& s = e.status();
      py::object exc =
          py::module_::import("ckpt._errors")
              .attr("_from_status")(static_cast<int>(s.code()), CodeName(s.code()), s.message());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });
}

namespace {

py::dict MetaFields(const CheckpointMeta& meta) {
  py::dict d;
  d["metrics"] = py::cast(meta.metrics);
  d["attrs"] = py::cast(meta.attributes);
  d["wall_time_ns"] = meta.wall_time_ns;
  return d;
}

}  // namespace

py::dict ToDict(const CheckpointInfo& info) {
  py::dict d = MetaFields(info.meta);
  d["id"] = info.id;
  d["run"] = info.run;
  d["step"] = info.step;
  d["parent_id"] = info.parent_id;
  d["tags"] = py::cast(info.tags);
  d["tensor_count"] = info.tensor_count;
  d["blob_count"] = info.blob_count;
  d["logical_bytes"] = info.logical_bytes;
  d["new_bytes"] = info.new_bytes;
  d["new_raw_bytes"] = info.new_raw_bytes;
  d["shared_bytes"] = info.shared_bytes;
  d["world_size"] = info.world_size;
  d["shards_missing"] = info.shards_missing;
  return d;
}

py::dict ToDict(const EntryInfo& e) {
  py::dict d;
  d["name"] = e.name;
  d["is_blob"] = e.is_blob;
  d["dtype"] = std::string(DTypeName(e.dtype));
  d["shape"] = py::tuple(py::cast(e.shape));
  d["byte_length"] = e.byte_length;
  d["chunk_ids"] = py::tuple(py::cast(e.chunk_ids));
  d["local_rank"] = e.local_rank;
  d["writer_rank"] = e.writer_rank;
  py::list pieces;
  for (const PieceInfo& p : e.pieces) {
    py::dict pd;
    pd["writer_rank"] = p.writer_rank;
    pd["offsets"] = py::tuple(py::cast(p.offsets));
    pd["shape"] = py::tuple(py::cast(p.shape));
    pd["byte_length"] = p.byte_length;
    pieces.append(pd);
  }
  d["pieces"] = pieces;
  return d;
}

py::dict ToDict(const RunInfo& r) {
  py::dict d;
  d["name"] = r.name;
  d["checkpoint_count"] = r.checkpoint_count;
  d["latest_step"] = r.latest_step;
  d["latest_id"] = r.latest_id;
  return d;
}

py::dict ToDict(const StoreStats& s) {
  py::dict d;
  d["runs"] = s.runs;
  d["checkpoints"] = s.checkpoints;
  d["tags"] = s.tags;
  d["chunks"] = s.chunks;
  d["packs"] = s.packs;
  d["logical_bytes"] = s.logical_bytes;
  d["unique_raw_bytes"] = s.unique_raw_bytes;
  d["stored_chunk_bytes"] = s.stored_chunk_bytes;
  d["pack_bytes"] = s.pack_bytes;
  d["delta_chunks"] = s.delta_chunks;
  d["delta_raw_bytes"] = s.delta_raw_bytes;
  d["delta_stored_bytes"] = s.delta_stored_bytes;
  d["max_delta_depth"] = s.max_delta_depth;
  d["dedup_ratio"] = s.DedupRatio();
  d["compression_ratio"] = s.CompressionRatio();
  return d;
}

py::dict ToDict(const StoreConfig& c) {
  py::dict d;
  d["format_version"] = c.format_version;
  d["chunk_size"] = c.chunk_size;
  d["zstd_level"] = c.zstd_level;
  d["delta_max_depth"] = c.delta_max_depth;
  d["store_id"] = c.store_id;
  return d;
}

py::dict ToDict(const VerifyReport& r) {
  py::list problems;
  for (const VerifyProblem& p : r.problems) {
    py::dict pd;
    pd["code"] = std::string(CodeName(p.status.code()));
    pd["message"] = p.status.message();
    pd["checkpoints"] = py::cast(p.checkpoints);
    pd["tensors"] = py::cast(p.tensors);
    problems.append(pd);
  }
  py::dict d;
  d["checkpoints_checked"] = r.checkpoints_checked;
  d["pending_shards_checked"] = r.pending_shards_checked;
  d["chunks_checked"] = r.chunks_checked;
  d["bytes_read"] = r.bytes_read;
  d["problems"] = problems;
  return d;
}

py::dict ToDict(const ValueDiff& v) {
  py::list tensors;
  for (const TensorValueDiff& t : v.tensors) {
    py::dict d;
    d["name"] = t.name;
    d["dtype"] = std::string(DTypeName(t.dtype));
    d["shape"] = py::tuple(py::cast(t.shape));
    d["elements"] = t.elements;
    d["elements_changed"] = t.elements_changed;
    d["fraction_changed"] = t.fraction_changed;
    d["nonfinite_changed"] = t.nonfinite_changed;
    if (DTypeIsFloat(t.dtype)) {
      d["max_abs_diff"] = t.max_abs_diff;
    } else {
      d["max_abs_diff"] = t.max_abs_diff_exact;
    }
    d["mean_abs_diff"] = t.mean_abs_diff;
    d["l2_diff"] = t.l2_diff;
    d["l2_a"] = t.l2_a;
    d["rel_l2"] = t.rel_l2;
    d["chunks"] = t.chunks;
    d["chunks_changed"] = t.chunks_changed;
    d["bytes_read"] = t.bytes_read;
    tensors.append(d);
  }
  py::dict d;
  d["from"] = ToDict(v.from);
  d["to"] = ToDict(v.to);
  d["tensors"] = tensors;
  d["added"] = py::cast(v.added);
  d["removed"] = py::cast(v.removed);
  d["retyped"] = py::cast(v.retyped);
  d["bytes_read"] = v.bytes_read;
  return d;
}

py::dict ToDict(const GcReport& r) {
  py::list decisions;
  for (const RetentionDecision& dec : r.decisions) {
    py::dict dd;
    dd["checkpoint"] = ToDict(dec.checkpoint);
    dd["reasons"] = py::cast(dec.reasons);
    decisions.append(dd);
  }
  py::dict d;
  d["decisions"] = decisions;
  d["runs_without_policy"] = py::cast(r.runs_without_policy);
  d["checkpoints_removed"] = r.checkpoints_removed;
  d["chunks_removed"] = r.chunks_removed;
  d["bytes_unreferenced"] = r.bytes_unreferenced;
  d["packs_repacked"] = r.packs_repacked;
  d["bytes_repacked"] = r.bytes_repacked;
  d["packs_damaged"] = r.packs_damaged;
  d["packs_deleted"] = r.packs_deleted;
  d["orphan_packs_deleted"] = r.orphan_packs_deleted;
  d["bytes_deleted"] = r.bytes_deleted;
  d["packs_pending"] = r.packs_pending;
  d["index_compacted"] = r.index_compacted;
  d["log_snapshot"] = r.log_snapshot;
  d["dry_run"] = r.dry_run;
  d["step_seconds"] = py::cast(r.step_seconds);
  return d;
}

py::dict ToDict(const RetentionPolicy& p) {
  py::list best;
  for (const KeepBest& b : p.keep_best) {
    best.append(py::make_tuple(b.count, b.metric, b.minimize ? "min" : "max"));
  }
  py::dict d;
  d["keep_last"] = p.keep_last;
  d["keep_every"] = p.keep_every_steps;
  d["keep_within_seconds"] = p.keep_within_seconds;
  d["keep_hourly"] = p.keep_hourly;
  d["keep_daily"] = p.keep_daily;
  d["keep_weekly"] = p.keep_weekly;
  d["keep_monthly"] = p.keep_monthly;
  d["keep_best"] = best;
  return d;
}

RetentionPolicy PolicyFromDict(const py::dict& d) {
  RetentionPolicy p;
  for (auto [k, v] : d) {
    const std::string key = py::cast<std::string>(k);
    if (key == "keep_last") {
      p.keep_last = py::cast<uint32_t>(v);
    } else if (key == "keep_every") {
      p.keep_every_steps = py::cast<uint64_t>(v);
    } else if (key == "keep_within_seconds") {
      p.keep_within_seconds = py::cast<int64_t>(v);
    } else if (key == "keep_hourly") {
      p.keep_hourly = py::cast<uint32_t>(v);
    } else if (key == "keep_daily") {
      p.keep_daily = py::cast<uint32_t>(v);
    } else if (key == "keep_weekly") {
      p.keep_weekly = py::cast<uint32_t>(v);
    } else if (key == "keep_monthly") {
      p.keep_monthly = py::cast<uint32_t>(v);
    } else if (key == "keep_best") {
      for (py::handle item : v) {
        auto t = py::cast<py::tuple>(item);
        if (t.size() != 3)
          throw py::value_error("keep_best: expected (count, metric, 'min'|'max')");
        const std::string dir = py::cast<std::string>(t[2]);
        if (dir != "min" && dir != "max") {
          throw py::value_error("keep_best: direction must be 'min' or 'max', got '" + dir + "'");
        }
        p.keep_best.push_back(
            {py::cast<uint32_t>(t[0]), py::cast<std::string>(t[1]), dir == "min"});
      }
    } else {
      throw py::type_error("unknown retention rule '" + key + "'");
    }
  }
  return p;
}

}  // namespace ckpt::py_ext
