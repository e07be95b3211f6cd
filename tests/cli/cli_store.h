// Test helper: runs the built `ckpt` CLI against one temporary store.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/safetensors_writer.h"
#include "test_util.h"

namespace ckpt::test {

// The smallest chunk size the store allows, so small files span chunks.
inline constexpr uint32_t kCliChunkSize = 4096;

struct CliStore {
  TempDir dir;
  std::string store = dir.Sub("store");

  CommandResult Run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--store", store});
    return RunCli(args);
  }
  CommandResult RunOk(const std::vector<std::string>& args) const {
    CommandResult r = Run(args);
    INFO("ckpt " << Join(args) << "\nstdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
  }
  nlohmann::json RunJson(std::vector<std::string> args) const {
    args.push_back("--json");
    return nlohmann::json::parse(RunOk(args).out);
  }
  void Init() const { RunOk({"init", "--chunk-size", std::to_string(kCliChunkSize)}); }
  // The file Import writes for run@step.
  std::string FileOf(const std::string& run, uint64_t step) const {
    return dir.Sub(run + "-" + std::to_string(step) + ".safetensors");
  }
  // Writes `tensors` as FileOf(run, step) and imports it as run@step.
  nlohmann::json Import(const std::vector<StTensor>& tensors, const std::string& run, uint64_t step,
                        std::vector<std::string> extra = {}) const {
    std::string file = FileOf(run, step);
    WriteSafetensors(file, tensors, {{"format", "pt"}});
    std::vector<std::string> args = {"import", file, "--run", run, "--step", std::to_string(step)};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunJson(args);
  }
  static std::string Join(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) s += a + " ";
    return s;
  }
};

}  // namespace ckpt::test
