// Writes the seed corpus of the fuzz harnesses (tests/fuzz/corpus/<name>/)
// with the real encoders: small valid inputs and a few near-valid ones.
// Usage: make_corpus <corpus dir>. Deterministic; rerun it after a format
// change and commit the result (scripts/fuzz.sh --regen-corpus does both
// but the commit).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ckpt/retention.h"
#include "ckpt/store.h"
#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "index/index_keys.h"
#include "manifest/manifest_codec.h"
#include "pack/pack_format.h"
#include "repo/config.h"
#include "repo/policy_codec.h"
#include "safetensors/safetensors_header.h"
#include "util/bytes.h"

using namespace ckpt::internal;
namespace fs = std::filesystem;

namespace {

fs::path root;

void Write(const std::string& harness, const std::string& name, const std::string& bytes) {
  fs::create_directories(root / harness);
  std::ofstream out(root / harness / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// Floats of a slowly varying signal, as bytes: what planes and rANS code well.
std::vector<uint8_t> Floats(size_t count, float scale, float shift) {
  std::vector<uint8_t> out(count * 4);
  for (size_t i = 0; i < count; ++i) {
    float f = scale * std::sin(static_cast<float>(i) * 0.01f) + shift;
    std::memcpy(&out[i * 4], &f, 4);
  }
  return out;
}

void Safetensors() {
  std::vector<SafetensorsEntry> entries(3);
  entries[0] = {"a", ckpt::DType::kF32, {2, 2}, 0, 16};
  entries[1] = {"b.weight", ckpt::DType::kBF16, {3}, 16, 22};
  entries[2] = {"empty", ckpt::DType::kI64, {0}, 22, 22};
  auto header = EncodeSafetensorsHeader(entries, {{"format", "pt"}});
  Write("safetensors_header", "valid", *header + std::string(22, '\x01'));
  auto plain = EncodeSafetensorsHeader({entries[0]}, {});
  Write("safetensors_header", "one_tensor", *plain + std::string(16, '\x02'));
  Write("safetensors_header", "truncated_data", *plain + std::string(15, '\x02'));
  Write("safetensors_header", "truncated_header", plain->substr(0, plain->size() - 3));
  std::string json =
      R"({"x":{"dtype":"F16","shape":[],"data_offsets":[0,2]},)"
      R"("__metadata__":{"k":"v"},"y":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}})";
  std::string text;
  PutFixed64(&text, json.size());
  Write("safetensors_header", "metadata_middle", text + json + "abc");
  std::string hole = R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  text.clear();
  PutFixed64(&text, hole.size());
  Write("safetensors_header", "hole", text + hole + "ab");
}

Manifest SampleManifest() {
  Manifest m;
  m.run = "train";
  m.step = 1234;
  m.wall_time_ns = 1700000000000000000;
  m.parent = Sha256("parent", 6);
  m.chunk_size = 4096;
  m.metrics = {{"loss", 0.25}, {"acc", 0.9}};
  m.attributes = {{"git", "abc123"}};
  ManifestEntry w;
  w.name = "layer.0.weight";
  w.dtype = ckpt::DType::kF32;
  w.shape = {1024, 3};
  w.byte_length = 12288;
  for (int i = 0; i < 3; ++i) w.chunks.push_back(Sha256(&i, sizeof i));
  ManifestEntry blob;
  blob.name = "__header__";
  blob.is_blob = true;
  blob.byte_length = 10;
  blob.chunks.push_back(Sha256("blob", 4));
  ManifestEntry empty;
  empty.name = "empty";
  empty.dtype = ckpt::DType::kBF16;
  empty.shape = {0};
  m.entries = {w, blob, empty};
  return m;
}

void Manifests() {
  const std::string full = EncodeManifest(SampleManifest());
  Write("manifest", "full", full);
  Manifest minimal;
  minimal.run = "r";
  minimal.chunk_size = 1;
  Write("manifest", "minimal", EncodeManifest(minimal));
  Write("manifest", "truncated", full.substr(0, full.size() - 5));
  Manifest odd = SampleManifest();
  odd.chunk_size = 3;  // shorter than an element: one element per chunk
  odd.entries.resize(1);
  odd.entries[0].byte_length = 8;
  odd.entries[0].chunks.resize(2);
  Write("manifest", "tiny_chunks", EncodeManifest(odd));
  // Sharded (version 2): two row pieces of a 4 x 2 tensor, one rank-local blob.
  Manifest sharded = SampleManifest();
  sharded.world_size = 2;
  sharded.entries.resize(2);
  ManifestEntry top = sharded.entries[0], bottom = sharded.entries[0];
  top.dtype = bottom.dtype = ckpt::DType::kF32;
  top.shape = bottom.shape = {2, 2};
  top.global_shape = bottom.global_shape = {4, 2};
  top.offsets = {0, 0};
  bottom.offsets = {2, 0};
  bottom.writer = 1;
  top.byte_length = bottom.byte_length = 16;
  top.chunks.resize(1);
  bottom.chunks.resize(1);
  sharded.entries[1].local_rank = 1;
  sharded.entries[1].writer = 1;
  sharded.entries = {top, bottom, sharded.entries[1]};
  Write("manifest", "sharded", EncodeManifest(sharded));
}

std::string Pack(int entries, bool manifest_last) {
  std::string pack = EncodePackHeader();
  std::vector<PackEntry> index;
  for (int i = 0; i < entries; ++i) {
    std::string payload(10 + i * 7, static_cast<char>('a' + i));
    PackEntry e;
    e.kind = manifest_last && i == entries - 1 ? EntryKind::kManifest : EntryKind::kChunk;
    e.codec = static_cast<uint8_t>(i % 2);
    e.digest = Sha256(payload.data(), payload.size());
    e.offset = pack.size();
    e.length = static_cast<uint32_t>(payload.size());
    e.raw_length = e.length + static_cast<uint32_t>(i);
    pack += payload;
    index.push_back(e);
  }
  AppendPackIndex(index, pack.size(), &pack);
  return pack;
}

void Packs() {
  for (int control : {0, 1}) {
    const std::string c(1, static_cast<char>(control));
    Write("pack_index", "three_" + std::to_string(control), c + Pack(3, true));
    Write("pack_index", "empty_" + std::to_string(control), c + Pack(0, false));
  }
  std::string bad = Pack(2, false);
  bad[bad.size() - 56 - 50 - 50] = 7;  // a record of unknown kind, checksum fixed by control 1
  Write("pack_index", "bad_kind", "\x01" + bad);
}

std::string DecodeSeed(Codec codec, size_t raw_size, uint8_t control, const std::string& entry) {
  std::string out(1, static_cast<char>(codec));
  PutFixed32(&out, static_cast<uint32_t>(raw_size));
  out.push_back(static_cast<char>(control));
  return out + entry;
}

void Chunks() {
  const auto floats = Floats(1024, 1.0f, 0.0f);  // 4 KiB
  const auto base = Floats(1024, 1.0f, 0.001f);
  int n = 0;
  auto name = [&](const char* what) { return std::string(what) + "_" + std::to_string(n++); };
  for (size_t elem : {2, 4, 8}) {
    EncodeParams p;
    p.elem_size = elem;
    p.is_float = true;
    p.planes = PlanesChoice::kUse;
    std::string enc;
    Codec c = EncodeChunk(floats.data(), floats.size(), p, &enc);
    for (uint8_t control : {0, 2, 4})
      Write("chunk_decode", name("planes"), DecodeSeed(c, floats.size(), control, enc));
    std::string delta;
    Codec d = EncodeDelta(floats.data(), base.data(), Sha256(base.data(), base.size()),
                          floats.size(), p, SIZE_MAX, &delta);
    Write("chunk_decode", name("delta"), DecodeSeed(d, floats.size(), 0, delta));
  }
  EncodeParams plain;
  std::string enc;
  Codec c = EncodeChunk(floats.data(), floats.size(), plain, &enc);
  Write("chunk_decode", name("zstd"), DecodeSeed(c, floats.size(), 4, enc));
  Write("chunk_decode", name("dev_format_planes4"),
        DecodeSeed(static_cast<Codec>(3), floats.size(), 0, enc));
  Write("chunk_decode", name("raw"), DecodeSeed(Codec::kRaw, 16, 0, std::string(16, 'x')));
  std::string delta;
  Codec d = EncodeDelta(floats.data(), base.data(), Sha256(base.data(), base.size()), floats.size(),
                        plain, SIZE_MAX, &delta);
  Write("chunk_decode", name("delta_xor"), DecodeSeed(d, floats.size(), 0, delta));

  // Round trips: control, level, score, data.
  const std::string small = Str(Floats(256, 2.0f, 1.0f));
  for (uint8_t control : {0x00, 0x09, 0x0A, 0x1B, 0x2A, 0x0E, 0x49, 0x4A, 0x5B})
    Write("chunk_roundtrip", "c" + std::to_string(control),
          std::string{static_cast<char>(control), 1, 0} + small);
  Write("chunk_roundtrip", "scored", std::string{0x1A, 0, static_cast<char>(0xC5)} + small);
}

void Configs() {
  ckpt::StoreConfig c;
  c.format_version = 4;
  c.chunk_size = 262144;
  c.zstd_level = 3;
  c.delta_max_depth = 1;
  c.store_id = "0123456789abcdef0123456789abcdef";
  Write("config", "v4", EncodeConfig(c));
  c.format_version = 1;
  c.delta_max_depth = 0;
  Write("config", "v1", EncodeConfig(c));
  Write("config", "no_version", "ckpt-store\nchunk_size=4096\nzstd_level=1\n");
}

void Policies() {
  ckpt::RetentionPolicy p;
  p.keep_last = 3;
  p.keep_every_steps = 1000;
  p.keep_within_seconds = 86400;
  p.keep_daily = 7;
  p.keep_best = {{2, "loss", true}, {1, "acc", false}};
  Write("policy", "full", EncodePolicy(p));
  Write("policy", "empty", EncodePolicy(ckpt::RetentionPolicy()));
  Write("policy", "duration", "48h");
  Write("policy", "keep_best", "3:val_loss:min");
}

void IndexKeys() {
  ChunkLocation loc;
  loc.pack_id = "00112233445566778899aabbccddeeff";
  loc.offset = 16;
  loc.length = 1000;
  loc.raw_length = 4096;
  loc.codec = 6;
  Write("index_keys", "location", std::string(1, '\x00') + EncodeChunkLocation(loc));
  loc.codec = 21;
  loc.base = Sha256("base", 4);
  loc.depth = 2;
  Write("index_keys", "delta_location", std::string(1, '\x00') + EncodeChunkLocation(loc));
  CheckpointRecord rec;
  rec.manifest_location = loc;
  rec.new_bytes = 100;
  rec.manifest = EncodeManifest(SampleManifest());
  Write("index_keys", "record", "\x01" + EncodeCheckpointRecord(rec));
  Write("index_keys", "pack_record", "\x02" + EncodePackRecord({123456, 42}));
  Write("index_keys", "run_step", "\x03" + RunStepKey("train", 1000));
  Write("index_keys", "pack_key", "\x04" + PackKey(loc.pack_id));
}

void Refs() {
  for (const char* ref : {"train@10", "eval.v2@7", "best", "v1.0", "train", "broken", "short",
                          "train@18446744073709551615", "0123456789ab", "..", "a@b@1",
                          // id prefixes: ref_fuzz's ids are c0ffee00..., c0ffee01..., ...
                          "c0ffee", "C0FFEE0103", "c0ffee0011"})
    Write("ref", ref[0] == '.' ? "dotdot" : ref, ref);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  root = argv[1];
  Safetensors();
  Manifests();
  Packs();
  Chunks();
  Configs();
  Policies();
  IndexKeys();
  Refs();
  return 0;
}
