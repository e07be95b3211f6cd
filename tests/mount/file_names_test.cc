// The mount's name escaping and .npy headers.
#include "mount/file_names.h"

#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <string>

#include "mount/npy_header.h"

namespace ckpt::mount {
namespace {

TEST_CASE("mount: escaped names are file names and read back", "[unit]") {
  const std::vector<std::string> names = {
      "model.layers.0.weight", "rank3/opt.state", "a%b",    "%2F", "", ".", "..", "...",
      std::string("n\0l", 3),  "tensors/x.npy",   "ünïcödé"};
  for (const std::string& name : names) {
    const std::string file = EscapeName(name);
    INFO(name << " -> " << file);
    CHECK(file.find('/') == std::string::npos);
    CHECK(file.find('\0') == std::string::npos);
    CHECK(file != ".");
    CHECK(file != "..");
    CHECK(!file.empty());
    CHECK(UnescapeFileName(file) == name);
  }
  CHECK(EscapeName("model.layers.0.weight") == "model.layers.0.weight");
  CHECK(EscapeName("rank3/opt.state", ".npy") == "rank3%2Fopt.state.npy");
}

TEST_CASE("mount: random names escape reversibly and distinctly", "[unit]") {
  std::mt19937 rng(7);
  std::set<std::string> files;
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::string name(rng() % 40, ' ');
    for (char& c : name) c = "ab/%.\0x"[rng() % 7];
    if (!seen.insert(name).second) continue;
    const std::string file = EscapeName(name);
    CHECK(UnescapeFileName(file) == name);
    CHECK(files.insert(file).second);
  }
}

TEST_CASE("mount: a name too long for a file name is cut and marked", "[unit]") {
  const std::string a(300, 'a');
  const std::string b = std::string(299, 'a') + "b";
  const std::string slashes(200, '/');
  for (const std::string& name : {a, b, slashes}) {
    const std::string file = EscapeName(name, ".npy");
    CHECK(file.size() <= kMaxFileName);
    CHECK(file.find("%~") != std::string::npos);
    CHECK(file.substr(file.size() - 4) == ".npy");
    CHECK_FALSE(UnescapeFileName(file.substr(0, file.size() - 4)).has_value());
  }
  CHECK(EscapeName(a) != EscapeName(b));
  CHECK(EscapeName(std::string(251, 'x'), ".npy").size() == 255);
  CHECK(EscapeName(std::string(251, 'x'), ".npy").find("%~") == std::string::npos);
}

TEST_CASE("mount: malformed escapes do not read back", "[unit]") {
  CHECK_FALSE(UnescapeFileName("a%").has_value());
  CHECK_FALSE(UnescapeFileName("a%2").has_value());
  CHECK_FALSE(UnescapeFileName("a%zz").has_value());
}

TEST_CASE("mount: .npy headers are aligned and spell dtype and shape", "[unit]") {
  const std::string h = NpyHeader(DType::kF32, {2, 3});
  CHECK(h.size() % 64 == 0);
  CHECK(h.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const size_t dict_len = static_cast<unsigned char>(h[8]) | static_cast<unsigned char>(h[9]) << 8;
  CHECK(dict_len + 10 == h.size());
  CHECK(h.back() == '\n');
  CHECK(h.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") == 10);
  CHECK(NpyHeader(DType::kI64, {5}).find("'shape': (5,)") != std::string::npos);
  CHECK(NpyHeader(DType::kF64, {}).find("'shape': ()") != std::string::npos);
  CHECK(NpyDescr(DType::kBF16) == "<u2");
  CHECK(NpyDescr(DType::kF8E4M3) == "|u1");
  CHECK(NpyDescr(DType::kBool) == "|b1");
}

}  // namespace
}  // namespace ckpt::mount
