// Runs the scheduled gc commands shipped in docs/ (the systemd service's
// ExecStart= and the crontab line) exactly as written, against a real store,
// so that the documented setup keeps working.
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_store.h"
#include "cli/safetensors_writer.h"
#include "test_util.h"

namespace ckpt::test {
namespace {

using nlohmann::json;

constexpr const char* kDocBinary = "/usr/local/bin/ckpt";
constexpr const char* kDocStore = "/data/ckpt";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  INFO("reading " << path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> LinesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// The documented command with the real binary and a test store in place of
// /usr/local/bin/ckpt and /data/ckpt. Both must appear in it.
std::string Localize(std::string command, const std::string& store) {
  INFO("documented command: " << command);
  REQUIRE(command.find(kDocBinary) != std::string::npos);
  REQUIRE(command.find(kDocStore) != std::string::npos);
  ReplaceAll(command, kDocBinary, Quote(CKPT_CLI_PATH));
  ReplaceAll(command, kDocStore, Quote(store));
  return command;
}

// The ExecStart= command of a unit file, preceded by its Environment=
// assignments, as the shell line systemd's execution amounts to.
std::string ServiceCommand(const std::string& unit) {
  std::string env, exec;
  for (const auto& line : LinesOf(unit)) {
    std::string l = Trim(line);
    if (l.rfind("Environment=", 0) == 0) env += l.substr(12) + " ";
    if (l.rfind("ExecStart=", 0) == 0) {
      REQUIRE(exec.empty());  // exactly one
      exec = l.substr(10);
    }
  }
  REQUIRE(!exec.empty());
  return env.empty() ? exec : "env " + env + exec;
}

// The command of the one crontab entry: after the five schedule fields,
// before any redirection.
std::string CrontabCommand(const std::string& crontab) {
  std::string entry;
  for (const auto& line : LinesOf(crontab)) {
    std::string l = Trim(line);
    if (l.empty() || l[0] == '#') continue;
    REQUIRE(entry.empty());  // exactly one entry
    entry = l;
  }
  REQUIRE(!entry.empty());
  std::smatch m;
  static const std::regex kEntry(R"(^(\S+\s+){5}(.*)$)");
  REQUIRE(std::regex_match(entry, m, kEntry));
  std::string command = m[2];
  static const std::regex kRedirect(R"(\s+([0-9]?>|&>))");
  if (std::regex_search(command, m, kRedirect)) command = command.substr(0, m.position(0));
  return Trim(command);
}

// Five checkpoints of run "r" with a policy keeping the last 2, and step 1
// tagged.
void Populate(const CliStore& s) {
  s.Init();
  for (uint64_t step = 1; step <= 5; ++step) {
    s.Import({{"shared", "F32", {1024}, RandomBytes(1024 * 4, 7)},
              {"w", "F32", {32, 32}, RandomBytes(32 * 32 * 4, 100 + step)}},
             "r", step, {"--metric", "loss=0.5"});
  }
  s.RunOk({"tag", "r@1", "baseline"});
  s.RunOk({"policy", "set", "r", "--keep-last", "2"});
}

// Steps 2 and 3 are gone; 1 (tagged), 4 and 5 export byte-identical.
void CheckApplied(const CliStore& s) {
  std::vector<uint64_t> steps;
  const json log = s.RunJson({"log", "r"});  // named: at() returns into it
  for (const auto& c : log.at("checkpoints")) steps.push_back(c.at("step"));
  CHECK(steps == std::vector<uint64_t>{1, 4, 5});
  for (uint64_t step : {1, 4, 5}) {
    std::string out = s.dir.Sub("out.safetensors");
    s.RunOk({"export", "r@" + std::to_string(step), "-o", out});
    CHECK(ReadFileBytes(out) == ReadFileBytes(s.FileOf("r", step)));
  }
  s.RunOk({"verify", "--read-data"});
}

TEST_CASE("scheduling: the documented systemd service runs gc", "[integration][cli][schedule]") {
  std::string unit = ReadText(std::string(CKPT_SOURCE_DIR) + "/docs/systemd/ckpt-gc.service");
  std::string exec = ServiceCommand(unit);
  CHECK(unit.find("Type=oneshot") != std::string::npos);

  CliStore s;
  Populate(s);
  std::string command = Localize(exec, s.store);
  CommandResult r = RunShell(command);
  INFO(command << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("removed 2 checkpoints") != std::string::npos);
  CHECK(r.out.find("kept by: tag baseline") != std::string::npos);
  CheckApplied(s);

  SECTION("a second run is a no-op that still succeeds") {
    CommandResult again = RunShell(command);
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("removed 0 checkpoints") != std::string::npos);
    CheckApplied(s);
  }
}

TEST_CASE("scheduling: the documented crontab line runs gc", "[integration][cli][schedule]") {
  std::string crontab = ReadText(std::string(CKPT_SOURCE_DIR) + "/docs/cron/ckpt-gc.crontab");
  std::string cron = CrontabCommand(crontab);

  CliStore s;
  Populate(s);
  std::string command = Localize(cron, s.store);
  CommandResult r = RunShell(command);
  INFO(command << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  json report = json::parse(r.out);
  CHECK(report.at("dry_run") == false);
  CHECK(report.at("checkpoints_removed") == 2);
  CHECK(report.at("checkpoints_to_remove") == 2);
  CHECK(report.at("decisions").size() == 5);
  CHECK(report.at("runs_without_policy").empty());
  CHECK(report.at("chunks_removed").get<uint64_t>() >= 2);
  // The default grace period of 1h holds on to the condemned packs.
  CHECK(report.at("packs_pending").get<uint64_t>() >= 1);
  CHECK(report.at("packs_deleted") == 0);
  for (const auto& d : report.at("decisions")) {
    uint64_t step = d.at("step");
    CHECK(d.at("keep") == (step == 1 || step >= 4));
  }
  CheckApplied(s);
}

TEST_CASE("scheduling: docs/scheduling.md shows the shipped files' commands",
          "[integration][cli][schedule]") {
  const std::string dir = std::string(CKPT_SOURCE_DIR) + "/docs/";
  std::string page = ReadText(dir + "scheduling.md");
  for (const char* file : {"systemd/ckpt-gc.service", "systemd/ckpt-gc.timer"}) {
    // The page shows each unit file in full.
    INFO(file);
    CHECK(page.find(ReadText(dir + file)) != std::string::npos);
  }
  for (const auto& line : LinesOf(ReadText(dir + "cron/ckpt-gc.crontab"))) {
    if (!line.empty() && line[0] != '#') CHECK(page.find(line) != std::string::npos);
  }
}

}  // namespace
}  // namespace ckpt::test
