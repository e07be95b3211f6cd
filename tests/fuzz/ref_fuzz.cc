// Fuzzes ref parsing: ResolveRef (RUN@STEP, tag, run, id prefix) against a
// small real index, and IsValidName. The index, in a fresh directory under
// $TMPDIR, holds runs "train" (steps 1, 2, 10) and "eval.v2" (step 7), tags
// "best" and "v1.0", and damage: a bad checkpoint record behind tag
// "broken", a tag value of the wrong size, checkpoint keys of the wrong size.
//
// A ref that resolves must name one of the checkpoints put there, and
// RUN@STEP must give that run and step; names IsValidName accepts must
// match [A-Za-z0-9._-]{1,128}, but not "." or "..".
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "index/index.h"
#include "index/index_keys.h"
#include "manifest/manifest_codec.h"
#include "repo/ref_resolver.h"
#include "util/hex.h"

using namespace ckpt::internal;

namespace {

struct Fixture {
  std::string dir;
  std::unique_ptr<Index> index;
  std::map<Digest, std::pair<std::string, uint64_t>> checkpoints;  // id -> run, step
  Digest broken;                                                   // id of the damaged record

  Fixture() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ckpt-ref-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    auto opened = Index::Open(dir + "/index", true, false, /*background_compactions=*/false);
    FUZZ_CHECK(opened.ok());
    index = std::move(*opened);
    IndexBatch batch;
    Digest previous;
    uint8_t k = 0;
    for (auto [run, step] : {std::pair<std::string, uint64_t>{"train", 1},
                             {"train", 2},
                             {"train", 10},
                             {"eval.v2", 7}}) {
      Manifest m;
      m.run = run;
      m.step = step;
      m.chunk_size = 4096;
      ManifestEntry e;
      e.name = "w";
      e.dtype = ckpt::DType::kF32;
      e.shape = {2};
      e.byte_length = 8;
      e.chunks.push_back(Sha256("abcdefgh", 8));
      m.entries.push_back(e);
      CheckpointRecord rec;
      rec.manifest = EncodeManifest(m);
      rec.manifest_location.pack_id = "00112233445566778899aabbccddeeff";
      // Ids c0ffee00..., c0ffee01..., so the seeds can hold their prefixes
      // (the resolver does not check that an id is its manifest's hash).
      Digest id;
      for (size_t j = 0; j < Digest::kSize; ++j) id.bytes[j] = static_cast<uint8_t>(k * 17 + j);
      id.bytes[0] = 0xc0, id.bytes[1] = 0xff, id.bytes[2] = 0xee, id.bytes[3] = k++;
      batch.Put(CheckpointKey(id), EncodeCheckpointRecord(rec));
      batch.Put(RunStepKey(run, step), id.View());
      checkpoints[id] = {run, step};
      previous = id;
      if (step == 2) batch.Put(TagKey("best"), id.View());
    }
    batch.Put(TagKey("v1.0"), previous.View());
    // A tag to an id whose record is damaged, and a tag of the wrong size.
    broken = Sha256("broken", 6);
    batch.Put(CheckpointKey(broken), "\x05garbage");
    batch.Put(TagKey("broken"), broken.View());
    batch.Put(TagKey("short"), "abc");
    // Damaged checkpoint keys: one a 4-byte prefix of the id of train@10,
    // too short for an id, and one too long.
    batch.Put(std::string("M\xc0\xff\xee\x02", 5), "x");
    batch.Put("M" + std::string(Sha256("long", 4).View()) + "tail", "x");
    FUZZ_CHECK(index->Commit(batch).ok());
  }
  ~Fixture() {
    index.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Fixture* fixture = nullptr;

bool NameByGrammar(std::string_view s) {
  if (s.empty() || s.size() > 128 || s == "." || s == "..") return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixture = new Fixture();
  std::atexit([] { delete fixture; });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string ref(reinterpret_cast<const char*>(data), size);
  FUZZ_CHECK(IsValidName(ref) == NameByGrammar(ref));

  auto resolved = ResolveRef(*fixture->index, ref);
  // An id prefix (no run or tag here is hex) resolves to the one id it
  // starts, is ambiguous if it starts several, and is not found otherwise.
  if (ref.size() >= 6 && ref.size() <= 64 && IsHex(ref)) {
    std::string lower;
    for (char c : ref) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::vector<Digest> starts;  // the ids of well-formed 'M' keys it starts
    for (const auto& [id, run_step] : fixture->checkpoints)
      if (id.Hex().rfind(lower, 0) == 0) starts.push_back(id);
    if (fixture->broken.Hex().rfind(lower, 0) == 0) starts.push_back(fixture->broken);
    if (starts.size() == 1 && starts[0] == fixture->broken) {
      FUZZ_CHECK(resolved.status().code() == ckpt::Code::kCorruption);
    } else if (starts.size() == 1) {
      FUZZ_CHECK(resolved.ok() && resolved->id == starts[0]);
    } else {
      FUZZ_CHECK(!resolved.ok());
      FUZZ_CHECK(resolved.status().code() ==
                 (starts.empty() ? ckpt::Code::kNotFound : ckpt::Code::kInvalidArgument));
    }
  }
  if (!resolved.ok()) {
    const ckpt::Code code = resolved.status().code();
    FUZZ_CHECK(code == ckpt::Code::kInvalidArgument || code == ckpt::Code::kNotFound ||
               code == ckpt::Code::kCorruption);
    return 0;
  }
  auto it = fixture->checkpoints.find(resolved->id);
  FUZZ_CHECK(it != fixture->checkpoints.end());
  FUZZ_CHECK(resolved->manifest.run == it->second.first &&
             resolved->manifest.step == it->second.second);
  const size_t at = ref.rfind('@');
  if (at != std::string::npos) {
    FUZZ_CHECK(ref.substr(0, at) == it->second.first);
    FUZZ_CHECK(std::stoull(ref.substr(at + 1)) == it->second.second);
  }
  (void)MakeDetail(*resolved, {});
  return 0;
}
