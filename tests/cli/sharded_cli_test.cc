// The CLI on a sharded checkpoint: show gives the world size, ls the pieces
// and who wrote them, export the assembled tensors, verify checks it all.
#include <catch2/catch.hpp>
#include <fstream>

#include "cli/cli_store.h"
#include "store/shard_fixture.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

TEST_CASE("cli: show, ls, export and verify of a sharded checkpoint", "[integration][cli][shard]") {
  CliStore cli;
  const ShardedState state(2, 1);
  {
    auto store = MustOpen(cli.store);
    for (int r : {1, 0}) {
      RankShard shard(state, "run", r);
      REQUIRE(store->Save(shard.request).ok());
    }
  }
  auto show = cli.RunJson({"show", "run@1"});
  CHECK(show["world_size"] == 2);
  CHECK(show["tensor_count"] == 6);  // w, v, g, bias, two cursors

  auto ls = cli.RunJson({"ls", "run@1"});
  std::map<std::string, nlohmann::json> entries;
  for (const auto& e : ls["entries"]) entries[e["name"]] = e;
  REQUIRE(entries.count("w"));
  CHECK(entries["w"]["shape"] == std::vector<int64_t>{37, 24});
  REQUIRE(entries["w"]["pieces"].size() == 4);
  CHECK(entries["w"]["pieces"][1]["offsets"] == std::vector<int64_t>{19, 0});
  CHECK(entries["w"]["pieces"][1]["writer_rank"] == 0);
  CHECK(entries["bias"]["writer_rank"] == 0);
  CHECK(entries["rank1/cursor"]["local_rank"] == 1);
  const std::string table = cli.RunOk({"ls", "run@1"}).out;
  CHECK_THAT(table, Catch::Contains("[28:37, 0:24]") && Catch::Contains("RANK"));

  // The export holds the assembled tensors, rank-local ones under their prefix.
  const std::string out = cli.dir.Sub("out.safetensors");
  cli.RunOk({"export", "run@1", "-o", out});
  std::ifstream f(out, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  const std::string body = bytes.substr(8 + n);
  for (const auto& [name, t] : state.tensors) {
    INFO(name);
    REQUIRE(header.contains(name));
    CHECK(header[name]["shape"] == t.shape);
    const uint64_t a = header[name]["data_offsets"][0], b = header[name]["data_offsets"][1];
    CHECK(body.substr(a, b - a) == std::string(t.bytes.begin(), t.bytes.end()));
  }
  CHECK(header.contains("rank0/cursor"));
  CHECK_THAT(cli.RunOk({"verify", "--read-data"}).out, Catch::Contains("no problems"));
}
