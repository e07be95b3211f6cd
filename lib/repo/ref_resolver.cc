#include "repo/ref_resolver.h"

#include <map>
#include <set>

#include "manifest/entry_view.h"
#include "repo/checkpoint_summary.h"
#include "util/hex.h"

namespace ckpt::internal {

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return name != "." && name != "..";
}

Result<ResolvedCheckpoint> LoadCheckpoint(Index& index, const Digest& id) {
  CKPT_ASSIGN_OR_RETURN(auto value, index.Get(CheckpointKey(id)));
  if (!value) return Status::NotFound("checkpoint " + id.ShortHex() + " not found");
  ResolvedCheckpoint c;
  c.id = id;
  CKPT_RETURN_IF_ERROR(DecodeCheckpointRecord(*value, &c.record));
  CKPT_RETURN_IF_ERROR(
      DecodeManifest(c.record.manifest, &c.manifest).WithContext("checkpoint " + id.ShortHex()));
  return c;
}

Result<std::optional<Digest>> LatestOfRun(Index& index, const std::string& run) {
  std::optional<Digest> latest;
  CKPT_RETURN_IF_ERROR(index.Scan(RunPrefix(run), [&](auto, std::string_view v) {
    if (v.size() == Digest::kSize) latest = Digest::FromView(v);
    return true;
  }));
  return latest;
}

namespace {

Result<std::optional<Digest>> LookupId(Index& index, const std::string& key) {
  CKPT_ASSIGN_OR_RETURN(auto value, index.Get(key));
  if (!value) return std::optional<Digest>();
  if (value->size() != Digest::kSize) return Status::Corruption("index: malformed id value");
  return std::optional<Digest>(Digest::FromView(*value));
}

Result<std::optional<Digest>> ByIdPrefix(Index& index, const std::string& ref) {
  if (ref.size() < 6 || ref.size() > 64 || !IsHex(ref)) return std::optional<Digest>();
  std::string lower;
  for (char c : ref) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto head = HexDecode(lower.substr(0, lower.size() / 2 * 2));
  std::string prefix = std::string(kCheckpointKeys) + std::string(head->begin(), head->end());
  std::vector<Digest> matches;
  CKPT_RETURN_IF_ERROR(index.Scan(prefix, [&](std::string_view k, auto) {
    if (k.size() != 1 + Digest::kSize) return true;  // damaged key: FromView would overread
    Digest d = Digest::FromView(k.substr(1));
    if (d.Hex().rfind(lower, 0) == 0) matches.push_back(d);
    return matches.size() < 2;
  }));
  if (matches.size() > 1)
    return Status::InvalidArgument("id prefix '" + ref + "' is ambiguous; give more digits");
  if (matches.empty()) return std::optional<Digest>();
  return std::optional<Digest>(matches[0]);
}

}  // namespace

Result<ResolvedCheckpoint> ResolveRef(Index& index, const std::string& ref) {
  std::optional<Digest> id;
  size_t at = ref.rfind('@');
  if (at != std::string::npos) {
    std::string run = ref.substr(0, at), step_text = ref.substr(at + 1);
    if (!IsValidName(run) || step_text.empty() ||
        step_text.find_first_not_of("0123456789") != std::string::npos || step_text.size() > 19)
      return Status::InvalidArgument("malformed ref '" + ref + "' (expected RUN@STEP)");
    CKPT_ASSIGN_OR_RETURN(id, LookupId(index, RunStepKey(run, std::stoull(step_text))));
  } else if (IsValidName(ref)) {
    CKPT_ASSIGN_OR_RETURN(id, LookupId(index, TagKey(ref)));
    if (!id) {
      CKPT_ASSIGN_OR_RETURN(id, LatestOfRun(index, ref));
    }
    if (!id) {
      CKPT_ASSIGN_OR_RETURN(id, ByIdPrefix(index, ref));
    }
  } else {
    return Status::InvalidArgument("malformed ref '" + ref + "'");
  }
  if (!id) return Status::NotFound("no checkpoint matches ref '" + ref + "'");
  return LoadCheckpoint(index, *id);
}

Result<std::multimap<std::string, std::string>> TagsById(Index& index) {
  std::multimap<std::string, std::string> tags;
  Status malformed;
  CKPT_RETURN_IF_ERROR(index.Scan(kTagKeys, [&](std::string_view k, std::string_view v) {
    // Skipping a tag would make its checkpoint look unprotected to gc.
    if (v.size() != Digest::kSize) {
      malformed = Status::Corruption("index: tag '" + std::string(k.substr(1)) +
                                     "' has a malformed value; run 'ckpt repair'");
      return false;
    }
    tags.emplace(Digest::FromView(v).Hex(), std::string(k.substr(1)));
    return true;
  }));
  CKPT_RETURN_IF_ERROR(malformed);
  return tags;
}

namespace {

std::vector<std::string> HexIds(const std::vector<Digest>& chunks) {
  std::vector<std::string> out;
  out.reserve(chunks.size());
  for (const auto& d : chunks) out.push_back(d.Hex());
  return out;
}

}  // namespace

Result<CheckpointDetail> MakeDetail(const ResolvedCheckpoint& c, std::vector<std::string> tags) {
  CheckpointDetail detail;
  detail.info = MakeInfo(c, std::move(tags));
  CKPT_ASSIGN_OR_RETURN(auto views, ViewEntries(c.manifest));
  for (const EntryView& v : views) {
    EntryInfo ei;
    ei.name = v.name;
    ei.is_blob = v.is_blob;
    ei.dtype = v.dtype;
    ei.shape = v.shape;
    ei.byte_length = v.byte_length;
    ei.local_rank = v.local_rank;
    for (size_t i : v.parts) {
      const ManifestEntry& e = c.manifest.entries[i];
      std::vector<std::string> ids = HexIds(e.chunks);
      if (v.pieced)
        ei.pieces.push_back({e.writer, e.offsets, e.shape, e.byte_length, ids});
      else
        ei.writer_rank = e.writer;
      ei.chunk_ids.insert(ei.chunk_ids.end(), ids.begin(), ids.end());
    }
    ei.chunk_count = static_cast<uint32_t>(ei.chunk_ids.size());
    detail.entries.push_back(std::move(ei));
  }
  return detail;
}

}  // namespace ckpt::internal
