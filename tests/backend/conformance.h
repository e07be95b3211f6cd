// The contract of ckpt::Backend as a test suite, after restic's
// backend/test/suite.go and TensorStore's kvstore test_util.h: every backend
// (local, the fault wrapper with no faults armed, object storage later) must
// pass it unchanged.
//
// Usage, inside a TEST_CASE:
//   RunBackendConformance([](const std::string& dir) { return NewLocalBackend(dir); });
// `make` gets a fresh, empty, existing directory the backend may use; each
// SECTION below runs on its own fresh backend.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ckpt/backend.h"
#include "test_util.h"

namespace ckpt::test {

namespace conformance_internal {

inline Status PutString(Backend& b, const std::string& name, const std::string& bytes) {
  return b.Put(name, bytes.data(), bytes.size());
}

inline std::string GetString(Backend& b, const std::string& name, uint64_t offset, size_t length,
                             Status* status) {
  std::string out(length, '\0');
  *status = b.Get(name, offset, length, out.data());
  return out;
}

inline std::vector<std::string> MustList(Backend& b, const std::string& prefix) {
  auto names = b.List(prefix);
  REQUIRE(names.ok());
  return *names;
}

}  // namespace conformance_internal

inline void RunBackendConformance(
    const std::function<std::shared_ptr<ckpt::Backend>(const std::string& dir)>& make) {
  using namespace conformance_internal;
  TempDir dir;
  std::shared_ptr<Backend> backend = make(dir.path());
  REQUIRE(backend != nullptr);
  Backend& b = *backend;
  CHECK_FALSE(b.Describe().empty());

  SECTION("put, get, size round trip") {
    const std::vector<uint8_t> data = RandomBytes(100000, 1);
    REQUIRE(b.Put("packs/ab/abcdef", data.data(), data.size()).ok());
    auto size = b.Size("packs/ab/abcdef");
    REQUIRE(size.ok());
    CHECK(*size == data.size());
    std::vector<uint8_t> back(data.size());
    REQUIRE(b.Get("packs/ab/abcdef", 0, back.size(), back.data()).ok());
    CHECK(back == data);
    // A range in the middle, and one ending exactly at the end.
    std::vector<uint8_t> part(1000);
    REQUIRE(b.Get("packs/ab/abcdef", 4321, part.size(), part.data()).ok());
    CHECK(std::equal(part.begin(), part.end(), data.begin() + 4321));
    REQUIRE(b.Get("packs/ab/abcdef", data.size() - 10, 10, part.data()).ok());
    CHECK(std::equal(part.begin(), part.begin() + 10, data.end() - 10));
    auto whole = b.GetWhole("packs/ab/abcdef");
    REQUIRE(whole.ok());
    CHECK(*whole == std::string(data.begin(), data.end()));
  }

  SECTION("large objects round trip, whole blocks and ragged tails alike") {
    // Sizes around the local backend's direct-write threshold (1 MiB of
    // whole 4 KiB blocks) and a tail that is not a whole block.
    for (size_t size : {size_t{1} << 20, (size_t{1} << 20) - 1, (size_t{1} << 20) + 1,
                        (size_t{3} << 20) + 123, size_t{5} << 20}) {
      INFO("size " << size);
      const std::vector<uint8_t> data = RandomBytes(size, size);
      REQUIRE(b.Put("packs/cd/large", data.data(), data.size()).ok());
      auto stored = b.Size("packs/cd/large");
      REQUIRE(stored.ok());
      CHECK(*stored == size);
      std::vector<uint8_t> back(size);
      REQUIRE(b.Get("packs/cd/large", 0, size, back.data()).ok());
      CHECK(back == data);
      // Unaligned ranges of at least 64 KiB (the local backend may read
      // them past the page cache), in the middle and up to the end.
      std::vector<uint8_t> part(200000);
      REQUIRE(b.Get("packs/cd/large", 4321, part.size(), part.data()).ok());
      CHECK(std::equal(part.begin(), part.end(), data.begin() + 4321));
      REQUIRE(b.Get("packs/cd/large", size - 70001, 70001, part.data()).ok());
      CHECK(std::equal(part.begin(), part.begin() + 70001, data.end() - 70001));
      CHECK(b.Get("packs/cd/large", size - 70000, 70001, part.data()).code() ==
            Code::kCorruption);  // past the end
    }
  }

  SECTION("zero-length objects exist and are listed") {
    REQUIRE(b.Put("refs/tags/empty", "", 0).ok());
    auto size = b.Size("refs/tags/empty");
    REQUIRE(size.ok());
    CHECK(*size == 0);
    char unused = 'x';
    CHECK(b.Get("refs/tags/empty", 0, 0, &unused).ok());
    CHECK(b.Get("refs/tags/empty", 0, 1, &unused).code() == Code::kCorruption);
    auto whole = b.GetWhole("refs/tags/empty");
    REQUIRE(whole.ok());
    CHECK(whole->empty());
    CHECK(MustList(b, "refs/") == std::vector<std::string>{"refs/tags/empty"});
  }

  SECTION("overwrite replaces the whole object") {
    REQUIRE(PutString(b, "config", "a long first version").ok());
    REQUIRE(PutString(b, "config", "short").ok());
    auto size = b.Size("config");
    REQUIRE(size.ok());
    CHECK(*size == 5);
    Status s;
    CHECK(GetString(b, "config", 0, 5, &s) == "short");
    CHECK(s.ok());
    CHECK(MustList(b, "") == std::vector<std::string>{"config"});
  }

  SECTION("put many stores every object, replacing any of the same name") {
    REQUIRE(PutString(b, "refs/deleted/aa", "an old version").ok());
    std::vector<Backend::NamedObject> objects;
    for (int i = 0; i < 40; ++i) {
      const std::string name = "refs/deleted/" + std::to_string(1000 + i);
      objects.push_back({name, "tombstone " + name});
    }
    objects.push_back({"refs/deleted/aa", "new"});
    objects.push_back({"refs/tags/in-a-new-directory", "t"});
    const std::vector<uint8_t> big = RandomBytes((size_t{1} << 20) + 3, 7);
    objects.push_back({"packs/cd/big", std::string(big.begin(), big.end())});
    REQUIRE(b.PutMany(objects).ok());
    for (const auto& o : objects) {
      auto whole = b.GetWhole(o.name);
      REQUIRE(whole.ok());
      CHECK(*whole == o.bytes);
    }
    CHECK(MustList(b, "").size() == objects.size());  // no leftovers, "aa" once
    CHECK(b.PutMany({}).ok());
  }

  SECTION("missing objects are not found") {
    Status s;
    GetString(b, "config", 0, 1, &s);
    CHECK(s.code() == Code::kNotFound);
    GetString(b, "packs/00/0011", 0, 0, &s);
    CHECK(s.code() == Code::kNotFound);
    CHECK(b.Size("config").status().code() == Code::kNotFound);
    CHECK(b.Size("packs/00/0011").status().code() == Code::kNotFound);
    CHECK(b.GetWhole("config").status().code() == Code::kNotFound);
  }

  SECTION("reads past the end are corruption") {
    REQUIRE(PutString(b, "obj", "0123456789").ok());
    Status s;
    GetString(b, "obj", 5, 6, &s);  // one byte too many
    CHECK(s.code() == Code::kCorruption);
    GetString(b, "obj", 10, 1, &s);  // starts at the end
    CHECK(s.code() == Code::kCorruption);
    GetString(b, "obj", 1000, 4, &s);  // starts beyond the end
    CHECK(s.code() == Code::kCorruption);
  }

  SECTION("list filters by prefix, sorts, and descends into directories") {
    const std::vector<std::string> names = {"refs/tags/best", "packs/cd/cd34", "config",
                                            "packs/ab/ab12",  "packs/ab/ab02", "refs/tags/b.1-x",
                                            "packs/abc/abc0", "configs/x"};
    for (const auto& n : names) REQUIRE(PutString(b, n, n).ok());

    std::vector<std::string> all = names;
    std::sort(all.begin(), all.end());
    CHECK(MustList(b, "") == all);
    CHECK(MustList(b, "packs/") == std::vector<std::string>{"packs/ab/ab02", "packs/ab/ab12",
                                                            "packs/abc/abc0", "packs/cd/cd34"});
    CHECK(MustList(b, "packs/ab") ==
          std::vector<std::string>{"packs/ab/ab02", "packs/ab/ab12", "packs/abc/abc0"});
    CHECK(MustList(b, "packs/ab/") == std::vector<std::string>{"packs/ab/ab02", "packs/ab/ab12"});
    CHECK(MustList(b, "packs/ab/ab1") == std::vector<std::string>{"packs/ab/ab12"});
    CHECK(MustList(b, "conf") == std::vector<std::string>{"config", "configs/x"});
    CHECK(MustList(b, "config") == std::vector<std::string>{"config", "configs/x"});
    CHECK(MustList(b, "refs/tags/b") ==
          std::vector<std::string>{"refs/tags/b.1-x", "refs/tags/best"});
    CHECK(MustList(b, "nothing/").empty());
    CHECK(MustList(b, "zzz").empty());
    CHECK(MustList(b, "packs/ef/").empty());
  }

  SECTION("list never shows partial objects of concurrent puts") {
    const std::string payload(64 * 1024, 'p');
    std::set<std::string> expected;
    for (int i = 0; i < 16; ++i) expected.insert("packs/aa/obj" + std::to_string(i));
    std::thread writer([&] {
      for (const auto& n : expected) (void)PutString(b, n, payload);
    });
    std::vector<std::string> strays;
    std::vector<std::string> errors;
    for (int round = 0; round < 200; ++round) {
      auto listed = b.List("packs/");
      if (!listed.ok()) {
        errors.push_back(listed.status().ToString());
        continue;
      }
      for (const auto& n : *listed)
        if (!expected.count(n)) strays.push_back(n);
    }
    writer.join();
    CHECK(strays.empty());
    CHECK(errors.empty());
    const auto final_names = MustList(b, "packs/");
    CHECK(std::set<std::string>(final_names.begin(), final_names.end()) == expected);
    for (const auto& n : expected) CHECK(*b.Size(n) == payload.size());
  }

  SECTION("removing abandoned writes never touches a completed object") {
    REQUIRE(PutString(b, "packs/aa/one", "1").ok());
    REQUIRE(PutString(b, "refs/tags/two", "22").ok());
    REQUIRE(PutString(b, "config", "333").ok());
    auto removed = b.RemoveAbandonedWrites("", std::numeric_limits<int64_t>::max());
    REQUIRE(removed.ok());
    CHECK(removed->objects == 0);
    CHECK(MustList(b, "") == std::vector<std::string>{"config", "packs/aa/one", "refs/tags/two"});
  }

  SECTION("remove deletes and is idempotent") {
    REQUIRE(PutString(b, "refs/tags/a", "x").ok());
    REQUIRE(PutString(b, "refs/tags/b", "y").ok());
    REQUIRE(b.Remove("refs/tags/a").ok());
    CHECK(b.Size("refs/tags/a").status().code() == Code::kNotFound);
    CHECK(MustList(b, "refs/") == std::vector<std::string>{"refs/tags/b"});
    CHECK(b.Remove("refs/tags/a").ok());      // again
    CHECK(b.Remove("refs/tags/never").ok());  // never existed
    Status s;
    CHECK(GetString(b, "refs/tags/b", 0, 1, &s) == "y");
    CHECK(s.ok());
  }

  SECTION("create stores only what is absent") {
    REQUIRE(b.Create("refs/commits/a", "first", 5).ok());
    Status again = b.Create("refs/commits/a", "second!", 7);
    CHECK(again.code() == Code::kAlreadyExists);
    Status s;
    CHECK(GetString(b, "refs/commits/a", 0, 5, &s) == "first");
    CHECK(s.ok());
    CHECK(*b.Size("refs/commits/a") == 5);
    REQUIRE(b.Create("refs/commits/empty", "", 0).ok());
    CHECK(b.Create("refs/commits/empty", "", 0).code() == Code::kAlreadyExists);
    // Put still replaces what Create made.
    REQUIRE(PutString(b, "refs/commits/a", "third").ok());
    CHECK(GetString(b, "refs/commits/a", 0, 5, &s) == "third");
    CHECK(MustList(b, "refs/commits/") ==
          std::vector<std::string>{"refs/commits/a", "refs/commits/empty"});
  }

  SECTION("of many concurrent creators of one name exactly one wins") {
    for (int round = 0; round < 3; ++round) {
      const std::string name = "refs/commits/race" + std::to_string(round);
      constexpr int kCreators = 8;
      std::vector<Status> results(kCreators);
      std::vector<std::thread> threads;
      for (int t = 0; t < kCreators; ++t) {
        threads.emplace_back([&b, &results, &name, t] {
          const std::string body = "creator " + std::to_string(t);
          results[t] = b.Create(name, body.data(), body.size());
        });
      }
      for (auto& th : threads) th.join();
      int winners = 0;
      int winner = -1;
      for (int t = 0; t < kCreators; ++t) {
        if (results[t].ok()) {
          ++winners;
          winner = t;
        } else {
          CHECK(results[t].code() == Code::kAlreadyExists);
        }
      }
      REQUIRE(winners == 1);
      Status s;
      CHECK(GetString(b, name, 0, 9, &s) == "creator " + std::to_string(winner));
      CHECK(s.ok());
    }
  }

  SECTION("concurrent puts of distinct objects all land") {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&b, t] {
        for (int i = 0; i < 5; ++i) {
          const std::string name = "packs/0" + std::to_string(t) + "/o" + std::to_string(i);
          (void)PutString(b, name, name);
        }
      });
    }
    for (auto& th : threads) th.join();
    const auto names = MustList(b, "packs/");
    CHECK(names.size() == 20);
    for (const auto& n : names) {
      Status s;
      CHECK(GetString(b, n, 0, n.size(), &s) == n);
      CHECK(s.ok());
    }
  }
}

}  // namespace ckpt::test
