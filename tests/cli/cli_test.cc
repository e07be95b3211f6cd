// End-to-end tests of the `ckpt` CLI: runs the built binary on temporary
// stores and checks its output, JSON and exit codes.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ckpt/store.h"
#include "cli/cli_store.h"
#include "cli/safetensors_writer.h"
#include "test_util.h"

namespace ckpt::test {
namespace {

using nlohmann::json;

constexpr uint32_t kChunkSize = kCliChunkSize;

// w: 4 chunks of F32; emb: 2 chunks; b: part of one chunk.
std::vector<StTensor> BaseTensors() {
  return {{"w", "F32", {64, 64}, RandomBytes(64 * 64 * 4, 1)},
          {"emb", "F32", {2048}, RandomBytes(2048 * 4, 2)},
          {"b", "F32", {16}, RandomBytes(16 * 4, 3)}};
}

const json* FindByName(const json& list, const std::string& name) {
  for (const auto& e : list) {
    if (e.at("name") == name) return &e;
  }
  return nullptr;
}

TEST_CASE("cli: init, import, log, show, ls", "[integration][cli]") {
  CliStore s;
  s.Init();
  json info = s.Import(BaseTensors(), "runA", 10, {"--meta", "owner=me", "--metric", "loss=0.5"});
  CHECK(info.at("run") == "runA");
  CHECK(info.at("step") == 10);
  CHECK(info.at("id").get<std::string>().size() == 64);
  CHECK(info.at("tensor_count") == 3);
  CHECK(info.at("logical_bytes").get<uint64_t>() >= (64 * 64 + 2048 + 16) * 4);
  CHECK(info.at("metrics").at("loss") == 0.5);
  CHECK(info.at("attributes").at("owner") == "me");
  const std::string id = info.at("id");

  SECTION("human import output names the id and sizes") {
    std::string file = s.dir.Sub("again.safetensors");
    WriteSafetensors(file, BaseTensors());
    CommandResult r = s.RunOk({"import", file, "--run", "runA", "--step", "11"});
    CHECK(r.out.find("runA@11") != std::string::npos);
    CHECK(r.out.find("logical") != std::string::npos);
    CHECK(r.out.find("stored") != std::string::npos);
  }

  SECTION("log") {
    CommandResult r = s.RunOk({"log"});
    CHECK(r.out.find("RUN") != std::string::npos);
    CHECK(r.out.find("runA") != std::string::npos);
    CHECK(r.out.find(id.substr(0, 12)) != std::string::npos);
    CHECK(r.out.find("loss=0.5") != std::string::npos);
    json j = s.RunJson({"log", "runA"});
    REQUIRE(j.at("checkpoints").size() == 1);
    CHECK(j["checkpoints"][0].at("id") == id);
    CHECK(j["checkpoints"][0].at("step") == 10);
  }

  SECTION("show") {
    CommandResult r = s.RunOk({"show", "runA@10"});
    CHECK(r.out.find(id) != std::string::npos);
    CHECK(r.out.find("owner") != std::string::npos);
    json j = s.RunJson({"show", id.substr(0, 8)});
    CHECK(j.at("id") == id);
    CHECK(j.at("run") == "runA");
    CHECK(j.at("metrics").at("loss") == 0.5);
  }

  SECTION("ls") {
    CommandResult r = s.RunOk({"ls", "runA"});
    CHECK(r.out.find("w") != std::string::npos);
    CHECK(r.out.find("[64, 64]") != std::string::npos);
    CHECK(r.out.find("F32") != std::string::npos);
    json j = s.RunJson({"ls", "runA@10"});
    const json* w = FindByName(j.at("entries"), "w");
    REQUIRE(w != nullptr);
    CHECK(w->at("dtype") == "F32");
    CHECK(w->at("shape") == json({64, 64}));
    CHECK(w->at("byte_length") == 64 * 64 * 4);
    CHECK(w->at("chunk_count") == 4);
    CHECK(w->at("kind") == "tensor");
  }
}

TEST_CASE("cli: export is byte-identical to the imported file", "[integration][cli]") {
  CliStore s;
  s.Init();
  std::string in = s.dir.Sub("in.safetensors"), out = s.dir.Sub("out.safetensors");
  WriteSafetensors(in, BaseTensors(), {{"format", "pt"}});
  s.RunOk({"import", in, "--run", "r", "--step", "0"});
  s.RunOk({"export", "r@0", "-o", out});
  CHECK(ReadFileBytes(out) == ReadFileBytes(in));
}

TEST_CASE("cli: diff finds the one changed tensor and its changed bytes", "[integration][cli]") {
  CliStore s;
  s.Init();
  std::vector<StTensor> tensors = BaseTensors();
  s.Import(tensors, "r", 1);
  // One element in w's second chunk (bytes [4096, 8192)) changes.
  tensors[0].data[5000] ^= 0xFF;
  s.Import(tensors, "r", 2);

  json d = s.RunJson({"diff", "r@1", "r@2"});
  REQUIRE(d.at("changed").size() == 1);
  const json& w = d["changed"][0];
  CHECK(w.at("name") == "w");
  CHECK(w.at("bytes_changed") == kChunkSize);
  CHECK(w.at("chunks_changed") == 1);
  CHECK(d.at("added").empty());
  CHECK(d.at("removed").empty());
  CHECK(d.at("unchanged") == 3);  // emb, b and the safetensors header blob
  CHECK(d.at("bytes_changed") == kChunkSize);

  CommandResult r = s.RunOk({"diff", "r@1", "r@2"});
  CHECK(r.out.find("changed") != std::string::npos);
  CHECK(r.out.find("w") != std::string::npos);
  CHECK(r.out.find("4.0 KiB") != std::string::npos);

  SECTION("added and removed tensors") {
    std::vector<StTensor> other = {tensors[0], {"head", "BF16", {8}, RandomBytes(16, 9)}};
    s.Import(other, "r", 3);
    json d2 = s.RunJson({"diff", "r@2", "r@3"});
    CHECK(FindByName(d2.at("added"), "head") != nullptr);
    CHECK(FindByName(d2.at("removed"), "emb") != nullptr);
    CHECK(FindByName(d2.at("removed"), "b") != nullptr);
    CHECK(FindByName(d2.at("changed"), "w") == nullptr);
  }
}

// F32 bytes of `values`.
std::vector<uint8_t> F32Bytes(const std::vector<float>& values) {
  std::vector<uint8_t> b(values.size() * 4);
  std::memcpy(b.data(), values.data(), b.size());
  return b;
}

TEST_CASE("cli: diff --values gives per-tensor statistics and a layer summary",
          "[integration][cli]") {
  CliStore s;
  s.Init();
  std::vector<float> w(2048), head(16, 1.0f);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 10);
  std::vector<StTensor> tensors = {{"enc.w", "F32", {2048}, F32Bytes(w)},
                                   {"enc.b", "F32", {16}, F32Bytes(head)},
                                   {"head.w", "F32", {16}, F32Bytes(head)},
                                   {"ids", "I64", {2}, std::vector<uint8_t>(16, 0)}};
  s.Import(tensors, "r", 1);
  // enc.w: two elements in its second chunk (of 4 KiB) move by 0.5 and -2.
  w[1500] += 0.5f;
  w[1600] -= 2.0f;
  tensors[0].data = F32Bytes(w);
  tensors[3].data[8] = 0xFF;  // ids[1]: 0 -> 255
  tensors.push_back({"new", "F32", {4}, F32Bytes({1, 2, 3, 4})});
  s.Import(tensors, "r", 2);

  json d = s.RunJson({"diff", "--values", "r@1", "r@2"});
  CHECK(d.at("changed").size() == 3);  // enc.w, ids and the header blob, as without --values
  CHECK(FindByName(d.at("added"), "new") != nullptr);
  const json& values = d.at("values");
  REQUIRE(values.size() == 4);
  const json* ew = FindByName(values, "enc.w");
  REQUIRE(ew != nullptr);
  CHECK(ew->at("dtype") == "F32");
  CHECK(ew->at("shape") == json::array({2048}));
  CHECK(ew->at("elements_changed") == 2);
  CHECK(ew->at("fraction_changed").get<double>() == Approx(2.0 / 2048));
  CHECK(ew->at("max_abs_diff").get<double>() == 2.0);
  CHECK(ew->at("mean_abs_diff").get<double>() == Approx(2.5 / 2048));
  double asq = 0;
  for (size_t i = 0; i < 2048; ++i) asq += double(i % 10) * double(i % 10);
  CHECK(ew->at("rel_l2").get<double>() == Approx(std::sqrt(4.25 / asq)));
  CHECK(ew->at("chunks_changed") == 1);
  // All of the old tensor (its norm) and the changed chunk of the new one.
  CHECK(ew->at("bytes_read") == 2048 * 4 + kChunkSize);
  const json* eb = FindByName(values, "enc.b");
  REQUIRE(eb != nullptr);
  CHECK(eb->at("elements_changed") == 0);
  CHECK(eb->at("rel_l2") == 0.0);
  CHECK(eb->at("bytes_read") == 0);
  const json* ids = FindByName(values, "ids");
  REQUIRE(ids != nullptr);
  CHECK(ids->at("max_abs_diff") == 255);
  CHECK(ids->at("max_abs_diff").is_number_unsigned());
  CHECK(ids->at("rel_l2").is_null());  // the old ids are all zeros

  const json& layers = d.at("layers");
  REQUIRE(layers.size() == 3);
  CHECK(layers[0].at("layer") == "enc");
  CHECK(layers[0].at("state") == "moved");
  CHECK(layers[0].at("tensors") == 2);
  CHECK(layers[0].at("tensors_changed") == 1);
  CHECK(layers[1].at("layer") == "head");
  CHECK(layers[1].at("state") == "frozen");
  CHECK(layers[2].at("layer") == "ids");

  CommandResult r = s.RunOk({"diff", "--values", "r@1", "r@2"});
  CHECK(r.out.find("REL L2") != std::string::npos);
  CHECK(r.out.find("2/2048") != std::string::npos);
  CHECK(r.out.find("frozen") != std::string::npos);
  CHECK(r.out.find("added") != std::string::npos);
  // The layer summary comes last, before the total line.
  CHECK(r.out.find("LAYER") > r.out.find("MAX ABS DIFF"));
  CHECK(r.out.find("4 tensors compared in 3 layers: 2 moved, 1 frozen") != std::string::npos);
}

TEST_CASE("cli: tag, untag and rm", "[integration][cli]") {
  CliStore s;
  s.Init();
  json info = s.Import(BaseTensors(), "r", 1);
  s.RunOk({"tag", "r@1", "best"});
  CHECK(s.RunJson({"show", "best"}).at("id") == info.at("id"));

  json tags = s.RunJson({"tag", "--list"});
  REQUIRE(tags.at("tags").size() == 1);
  CHECK(tags["tags"][0].at("tag") == "best");
  CHECK(tags["tags"][0].at("run") == "r");
  CHECK(tags["tags"][0].at("step") == 1);
  CHECK(s.RunOk({"tag", "--list"}).out.find("r@1") != std::string::npos);

  s.RunOk({"tag", "--delete", "best"});
  CHECK(s.Run({"show", "best"}).exit_code == 3);
  CHECK(s.Run({"tag", "--delete", "best"}).exit_code == 3);
  CHECK(s.Run({"tag", "r@1"}).exit_code == 2);  // REF without NAME

  s.RunOk({"rm", "r@1"});
  CHECK(s.Run({"show", "r@1"}).exit_code == 3);
  CHECK(s.RunJson({"log"}).at("checkpoints").empty());
}

TEST_CASE("cli: stats and verify", "[integration][cli]") {
  CliStore s;
  s.Init();
  s.Import(BaseTensors(), "r", 1);
  s.Import(BaseTensors(), "r", 2);  // identical: everything deduplicated

  json st = s.RunJson({"stats"});
  CHECK(st.at("runs") == 1);
  CHECK(st.at("checkpoints") == 2);
  CHECK(st.at("chunks").get<uint64_t>() > 0);
  CHECK(st.at("logical_bytes").get<uint64_t>() >= 2 * st.at("unique_raw_bytes").get<uint64_t>());
  CHECK(st.at("dedup_ratio").get<double>() >= 1.9);
  CHECK(s.RunOk({"stats"}).out.find("checkpoints") != std::string::npos);

  json v = s.RunJson({"verify", "--read-data"});
  CHECK(v.at("ok") == true);
  CHECK(v.at("problems").empty());
  CHECK(v.at("checkpoints_checked") == 2);
  CHECK(s.RunOk({"verify"}).out.find("no problems") != std::string::npos);

  SECTION("a flipped pack byte makes verify --read-data exit 4") {
    std::vector<std::filesystem::path> packs;
    for (const auto& e : std::filesystem::recursive_directory_iterator(s.store + "/packs")) {
      if (e.is_regular_file()) packs.push_back(e.path());
    }
    REQUIRE(!packs.empty());
    for (const auto& p : packs) {
      std::vector<uint8_t> bytes = ReadFileBytes(p.string());
      for (size_t i = 64; i + 64 < bytes.size(); i += 512) bytes[i] ^= 0x5A;
      WriteFileBytes(p.string(), bytes.data(), bytes.size());
    }
    CommandResult r = s.Run({"verify", "--read-data", "--json"});
    CHECK(r.exit_code == 4);
    json j = json::parse(r.out);
    CHECK(j.at("ok") == false);
    REQUIRE(!j.at("problems").empty());
    CHECK(!j["problems"][0].at("checkpoints").empty());
  }
}

TEST_CASE("cli: read-only commands work while a writer holds the store", "[integration][cli]") {
  CliStore s;
  s.Init();
  s.Import(BaseTensors(), "r", 1);
  // Stands in for a trainer: this process keeps the store open read-write.
  auto writer = Store::Open(StoreOptions{}, s.store);
  REQUIRE(writer.ok());
  CHECK(s.RunJson({"log"}).at("checkpoints").size() == 1);
  s.RunOk({"show", "r@1"});
  s.RunOk({"ls", "r@1"});
  s.RunOk({"stats"});
  s.RunOk({"verify"});
  s.RunOk({"export", "r@1", "-o", s.dir.Sub("out.safetensors")});
  // A writer takes the store lock only for short index sessions, so other
  // processes can mutate the store while it idles between saves.
  s.RunOk({"tag", "r@1", "best"});
  s.RunOk({"rm", "--force", "r@1"});
  CHECK(s.RunJson({"log"}).at("checkpoints").empty());
}

TEST_CASE("cli: exit codes", "[integration][cli]") {
  CliStore s;

  SECTION("missing store is not found (3)") { CHECK(s.Run({"log"}).exit_code == 3); }

  SECTION("unknown command is a usage error (2)") {
    CHECK(s.Run({"frobnicate"}).exit_code == 2);
    CHECK(RunCli({"log"}).exit_code == 2);  // no --store, no CKPT_STORE
  }

  s.Init();
  std::string file = s.dir.Sub("t.safetensors");
  WriteSafetensors(file, BaseTensors());

  SECTION("init twice is bad input (5)") { CHECK(s.Run({"init"}).exit_code == 5); }

  SECTION("not-found ref (3), with a JSON error object") {
    CHECK(s.Run({"show", "nosuch@1"}).exit_code == 3);
    CommandResult r = s.Run({"show", "nosuch@1", "--json"});
    CHECK(r.exit_code == 3);
    json j = json::parse(r.out);
    CHECK(j.at("error").at("code") == 1);
    CHECK(j["error"].at("name") == "not found");
    CHECK(r.err.rfind("ckpt: error: ", 0) == 0);
  }

  SECTION("malformed safetensors file is bad input (5)") {
    std::string bad = s.dir.Sub("bad.safetensors");
    std::string junk = "this is not a safetensors file at all";
    WriteFileBytes(bad, junk.data(), junk.size());
    CHECK(s.Run({"import", bad, "--run", "r", "--step", "1"}).exit_code == 5);
    CHECK(s.RunJson({"log"}).at("checkpoints").empty());
  }

  SECTION("missing input file is not found (3)") {
    CHECK(s.Run({"import", s.dir.Sub("none"), "--run", "r", "--step", "1"}).exit_code == 3);
  }

  SECTION("duplicate RUN@STEP is bad input (5)") {
    s.RunOk({"import", file, "--run", "r", "--step", "1"});
    CHECK(s.Run({"import", file, "--run", "r", "--step", "1"}).exit_code == 5);
  }

  SECTION("bad --step, --meta and --metric are bad input (5)") {
    for (const auto& extra : std::vector<std::vector<std::string>>{
             {"--step", "-1"},
             {"--step", "1x"},
             {"--step", "1", "--meta", "novalue"},
             {"--step", "1", "--meta", "=v"},
             {"--step", "1", "--metric", "loss=abc"},
             {"--step", "1", "--metric", "loss=inf"},
             {"--step", "1", "--metric", "loss=1", "--metric", "loss=2"}}) {
      std::vector<std::string> args = {"import", file, "--run", "r"};
      args.insert(args.end(), extra.begin(), extra.end());
      CommandResult r = s.Run(args);
      INFO(CliStore::Join(args) << "\n" << r.err);
      CHECK(r.exit_code == 5);
    }
    CHECK(s.RunJson({"log"}).at("checkpoints").empty());
  }
}

}  // namespace
}  // namespace ckpt::test
