// End-to-end tests of `ckpt policy`, `ckpt gc` and `ckpt rm --force`: runs the
// built binary on temporary stores and checks plans, removals, JSON and exit
// codes.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_store.h"
#include "cli/safetensors_writer.h"
#include "test_util.h"

namespace ckpt::test {
namespace {

using nlohmann::json;

// A shared tensor (deduplicated across steps) and one unique to `step`.
std::vector<StTensor> StepTensors(uint64_t step) {
  return {{"shared", "F32", {1024}, RandomBytes(1024 * 4, 7)},
          {"w", "F32", {32, 32}, RandomBytes(32 * 32 * 4, 100 + step)}};
}

// Imports run@step with metric loss=`loss`.
void ImportWithLoss(const CliStore& s, const std::string& run, uint64_t step, double loss) {
  s.Import(StepTensors(step), run, step, {"--metric", "loss=" + std::to_string(loss)});
}

std::vector<uint64_t> Steps(const CliStore& s, const std::string& run) {
  std::vector<uint64_t> steps;
  const json log = s.RunJson({"log", run});  // named: at() returns into it
  for (const auto& c : log.at("checkpoints")) steps.push_back(c.at("step"));
  return steps;
}

// The decision for run@step in gc --json output; fails the test if missing.
json DecisionOf(const json& gc, const std::string& run, uint64_t step) {
  for (const auto& d : gc.at("decisions")) {
    if (d.at("run") == run && d.at("step") == step) return d;
  }
  FAIL("no decision for " << run << "@" << step << " in " << gc.dump());
  return {};
}

std::vector<std::string> Reasons(const json& decision) {
  return decision.at("reasons").get<std::vector<std::string>>();
}

size_t Lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST_CASE("cli gc: policy set, show and unset round trip", "[integration][cli][gc]") {
  CliStore s;
  s.Init();
  CHECK(s.RunJson({"policy", "show"}).at("policies").empty());
  CHECK(s.RunOk({"policy", "show"}).out.find("no policies") != std::string::npos);

  json set = s.RunJson({"policy", "set", "r", "--keep-last", "3", "--keep-best", "2:loss:min",
                        "--keep-within", "2d", "--keep-every", "1000"});
  CHECK(set.at("run") == "r");
  CHECK(set.at("default") == false);
  CHECK(set.at("policy").at("keep_last") == 3);
  CommandResult human = s.RunOk({"policy", "set", "--default", "--keep-daily", "7"});
  CHECK(human.out.find("default policy") != std::string::npos);
  CHECK(human.out.find("--keep-daily 7") != std::string::npos);

  json all = s.RunJson({"policy", "show"});
  REQUIRE(all.at("policies").size() == 2);
  const json* run_policy = nullptr;
  const json* default_policy = nullptr;
  for (const auto& p : all.at("policies")) {
    (p.at("default") == true ? default_policy : run_policy) = &p;
  }
  REQUIRE(run_policy != nullptr);
  REQUIRE(default_policy != nullptr);
  CHECK(default_policy->at("run") == "");
  CHECK(default_policy->at("policy").at("keep_daily") == 7);
  CHECK(run_policy->at("run") == "r");
  const json& p = run_policy->at("policy");
  CHECK(p.at("keep_last") == 3);
  CHECK(p.at("keep_every_steps") == 1000);
  CHECK(p.at("keep_within_seconds") == 2 * 86400);
  REQUIRE(p.at("keep_best").size() == 1);
  CHECK(p["keep_best"][0].at("count") == 2);
  CHECK(p["keep_best"][0].at("metric") == "loss");
  CHECK(p["keep_best"][0].at("minimize") == true);

  std::string listing = s.RunOk({"policy", "show"}).out;
  CHECK(listing.find("(default)") != std::string::npos);
  CHECK(listing.find("--keep-last 3") != std::string::npos);
  CHECK(listing.find("--keep-best 2:loss:min") != std::string::npos);

  json one = s.RunJson({"policy", "show", "r"});
  CHECK(one.at("source") == "run");
  CHECK(one.at("policy").at("keep_last") == 3);
  json other = s.RunJson({"policy", "show", "other"});
  CHECK(other.at("source") == "default");
  CHECK(other.at("policy").at("keep_daily") == 7);
  CHECK(s.RunOk({"policy", "show", "other"}).out.find("default applies") != std::string::npos);

  SECTION("set replaces the earlier policy") {
    s.RunOk({"policy", "set", "r", "--keep-hourly", "5"});
    json again = s.RunJson({"policy", "show", "r"});
    CHECK(again.at("policy").at("keep_hourly") == 5);
    CHECK(again.at("policy").at("keep_last") == 0);
    CHECK(again.at("policy").at("keep_best").empty());
  }

  SECTION("unset") {
    s.RunOk({"policy", "unset", "r"});
    CHECK(s.RunJson({"policy", "show", "r"}).at("source") == "default");
    s.RunOk({"policy", "unset", "--default"});
    json gone = s.RunJson({"policy", "show", "r"});
    CHECK(gone.at("source") == "none");
    CHECK(gone.at("policy").is_null());
    CHECK(s.RunJson({"policy", "show"}).at("policies").empty());
    CHECK(s.Run({"policy", "unset", "r"}).exit_code == 3);
    CHECK(s.Run({"policy", "unset", "--default"}).exit_code == 3);
  }

  SECTION("usage errors") {
    CHECK(s.Run({"policy"}).exit_code == 2);
    // Neither RUN nor --default, or both.
    CHECK(s.Run({"policy", "set", "--keep-last", "3"}).exit_code == 2);
    CHECK(s.Run({"policy", "set", "r", "--default", "--keep-last", "3"}).exit_code == 2);
    CHECK(s.Run({"policy", "unset"}).exit_code == 2);
  }
}

TEST_CASE("cli gc: malformed policies are bad input and change nothing", "[integration][cli][gc]") {
  CliStore s;
  s.Init();
  ImportWithLoss(s, "r", 1, 0.5);
  s.RunOk({"policy", "set", "r", "--keep-last", "2"});
  const json before = s.RunJson({"policy", "show"});

  struct Bad {
    std::vector<std::string> flags;
    std::string named;  // the flag the error must name
    std::string value;  // and the value
  };
  const std::vector<Bad> bad = {
      {{"--keep-best", "2:loss"}, "--keep-best", "2:loss"},
      {{"--keep-best", "0:loss:min"}, "--keep-best", "0:loss:min"},
      {{"--keep-best", "2:loss:up"}, "--keep-best", "2:loss:up"},
      {{"--keep-within", "3 parsecs"}, "--keep-within", "3 parsecs"},
      {{"--keep-within", "0s"}, "--keep-within", "0s"},
      {{"--keep-last", "-3"}, "--keep-last", "-3"},
      {{"--keep-last", "0"}, "--keep-last", "0"},
      {{"--keep-last", "3x"}, "--keep-last", "3x"},
      {{"--keep-last", "99999999999"}, "--keep-last", "99999999999"},
      {{"--keep-daily", "1.5"}, "--keep-daily", "1.5"},
      {{"--keep-every", "-1"}, "--keep-every", "-1"},
      {{"--keep-last", "3", "--keep-best", "2:loss"}, "--keep-best", "2:loss"},
  };
  for (const auto& b : bad) {
    for (const std::string& target : {std::string("r"), std::string("--default")}) {
      std::vector<std::string> args = {"policy", "set", target};
      args.insert(args.end(), b.flags.begin(), b.flags.end());
      CommandResult r = s.Run(args);
      INFO(CliStore::Join(args) << "\nstdout: " << r.out << "\nstderr: " << r.err);
      CHECK(r.exit_code == 5);
      CHECK(Lines(r.err) == 1);
      CHECK(r.err.find(b.named) != std::string::npos);
      CHECK(r.err.find("'" + b.value + "'") != std::string::npos);
    }
    // gc takes the same flags and rejects them the same way, before any work.
    std::vector<std::string> args = {"gc"};
    args.insert(args.end(), b.flags.begin(), b.flags.end());
    CommandResult r = s.Run(args);
    INFO(CliStore::Join(args) << "\nstderr: " << r.err);
    CHECK(r.exit_code == 5);
    CHECK(Lines(r.err) == 1);
  }

  SECTION("a policy with no rule is bad input") {
    CommandResult r = s.Run({"policy", "set", "r"});
    CHECK(r.exit_code == 5);
    CHECK(Lines(r.err) == 1);
    CHECK(s.Run({"policy", "set", "--default"}).exit_code == 5);
  }

  SECTION("bad gc-only flags are bad input") {
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"gc", "--grace", "soon"},
                                               {"gc", "--grace", "-1h"},
                                               {"gc", "--grace", ""},
                                               {"gc", "--repack-threshold", "1.5"},
                                               {"gc", "--repack-threshold", "-0.1"},
                                               {"gc", "--repack-threshold", "half"}}) {
      CommandResult r = s.Run(args);
      INFO(CliStore::Join(args) << "\nstderr: " << r.err);
      CHECK(r.exit_code == 5);
      CHECK(Lines(r.err) == 1);
      CHECK(r.err.find(args[1]) != std::string::npos);
    }
  }

  CHECK(s.RunJson({"policy", "show"}) == before);
  CHECK(Steps(s, "r") == std::vector<uint64_t>{1});
}

TEST_CASE("cli gc: dry run lists every checkpoint with its reason and changes nothing",
          "[integration][cli][gc]") {
  CliStore s;
  s.Init();
  for (uint64_t step = 1; step <= 5; ++step) ImportWithLoss(s, "r", step, 1.0 / double(step));
  s.RunOk({"policy", "set", "r", "--keep-last", "2"});
  const json stats_before = s.RunJson({"stats"});

  json plan = s.RunJson({"gc", "--dry-run"});
  CHECK(plan.at("dry_run") == true);
  REQUIRE(plan.at("decisions").size() == 5);
  for (uint64_t step = 1; step <= 3; ++step) {
    json d = DecisionOf(plan, "r", step);
    CHECK(d.at("keep") == false);
    CHECK(d.at("reasons").empty());
    CHECK(d.at("id").get<std::string>().size() == 64);
  }
  for (uint64_t step = 4; step <= 5; ++step) {
    json d = DecisionOf(plan, "r", step);
    CHECK(d.at("keep") == true);
    CHECK(Reasons(d) == std::vector<std::string>{"last 2"});
  }
  CHECK(plan.at("checkpoints_to_remove") == 3);
  CHECK(plan.at("checkpoints_removed") == 3);             // a dry run reports what it would remove
  CHECK(plan.at("chunks_removed").get<uint64_t>() >= 3);  // each removed step's own w chunk
  CHECK(plan.at("bytes_unreferenced").get<uint64_t>() > 0);
  CHECK(plan.at("runs_without_policy").empty());
  for (const char* counter : {"packs_repacked", "bytes_repacked", "packs_deleted",
                              "orphan_packs_deleted", "bytes_deleted", "packs_pending"}) {
    CHECK(plan.contains(counter));
  }

  std::string out = s.RunOk({"gc", "--dry-run"}).out;
  CHECK(out.find("kept by: last 2") != std::string::npos);
  CHECK(out.find("remove") != std::string::npos);
  CHECK(out.find("would remove 3 checkpoints") != std::string::npos);
  CHECK(out.find("nothing was changed") != std::string::npos);
  for (const auto& d : plan.at("decisions")) {
    CHECK(out.find(d.at("id").get<std::string>().substr(0, 12)) != std::string::npos);
  }

  CHECK(Steps(s, "r") == std::vector<uint64_t>{1, 2, 3, 4, 5});
  json stats_after = s.RunJson({"stats"});
  CHECK(stats_after.at("chunks") == stats_before.at("chunks"));
  CHECK(stats_after.at("pack_bytes") == stats_before.at("pack_bytes"));
}

TEST_CASE("cli gc: removes what the policy does not keep", "[integration][cli][gc]") {
  CliStore s;
  s.Init();
  for (uint64_t step = 1; step <= 5; ++step) ImportWithLoss(s, "r", step, 1.0);
  s.RunOk({"policy", "set", "r", "--keep-last", "2"});

  json report = s.RunJson({"gc"});
  CHECK(report.at("dry_run") == false);
  CHECK(report.at("checkpoints_removed") == 3);
  CHECK(report.at("chunks_removed").get<uint64_t>() >= 3);
  CHECK(Steps(s, "r") == std::vector<uint64_t>{4, 5});
  for (uint64_t step : {4, 5}) {
    std::string out = s.dir.Sub("out.safetensors");
    s.RunOk({"export", "r@" + std::to_string(step), "-o", out});
    CHECK(ReadFileBytes(out) == ReadFileBytes(s.FileOf("r", step)));
  }
  s.RunOk({"verify", "--read-data"});

  SECTION("a second gc finds nothing more to remove") {
    std::string out = s.RunOk({"gc"}).out;
    CHECK(out.find("removed 0 checkpoints") != std::string::npos);
    CHECK(out.find("packs pending") != std::string::npos);
    CHECK(Steps(s, "r") == std::vector<uint64_t>{4, 5});
  }

  SECTION("flags override the stored policy for one call") {
    json r = s.RunJson({"gc", "--keep-last", "1", "--grace", "0s"});
    CHECK(r.at("checkpoints_removed") == 1);
    CHECK(Steps(s, "r") == std::vector<uint64_t>{5});
    CHECK(s.RunJson({"policy", "show", "r"}).at("policy").at("keep_last") == 2);
    s.RunOk({"verify", "--read-data"});
  }
}

TEST_CASE("cli gc: best 2 by loss and the last 3 keep the union", "[integration][cli][gc]") {
  CliStore s;
  s.Init();
  // Best by loss: steps 2 and 3. Last 3: steps 5, 6, 7. Removed: 1 and 4.
  const std::map<uint64_t, double> loss = {{1, 0.9}, {2, 0.1}, {3, 0.2}, {4, 0.5},
                                           {5, 0.6}, {6, 0.7}, {7, 0.8}};
  for (const auto& [step, l] : loss) ImportWithLoss(s, "r", step, l);

  std::vector<std::string> rules = {"--keep-best", "2:loss:min", "--keep-last", "3"};
  json report;
  SECTION("from a stored policy") {
    std::vector<std::string> set = {"policy", "set", "r"};
    set.insert(set.end(), rules.begin(), rules.end());
    s.RunOk(set);
    report = s.RunJson({"gc"});
  }
  SECTION("from gc's own flags") {
    std::vector<std::string> gc = {"gc", "--run", "r"};
    gc.insert(gc.end(), rules.begin(), rules.end());
    report = s.RunJson(gc);
  }
  CHECK(report.at("checkpoints_removed") == 2);
  CHECK(Reasons(DecisionOf(report, "r", 2)) == std::vector<std::string>{"best 2 by loss (min)"});
  CHECK(Reasons(DecisionOf(report, "r", 3)) == std::vector<std::string>{"best 2 by loss (min)"});
  CHECK(Reasons(DecisionOf(report, "r", 7)) == std::vector<std::string>{"last 3"});
  CHECK(DecisionOf(report, "r", 1).at("keep") == false);
  CHECK(DecisionOf(report, "r", 4).at("keep") == false);
  CHECK(Steps(s, "r") == std::vector<uint64_t>{2, 3, 5, 6, 7});
}

TEST_CASE("cli gc: tagged checkpoints survive gc, rm of one needs --force",
          "[integration][cli][gc]") {
  CliStore s;
  s.Init();
  for (uint64_t step = 1; step <= 4; ++step) ImportWithLoss(s, "r", step, 1.0);
  s.RunOk({"tag", "r@1", "keep-me"});
  s.RunOk({"policy", "set", "--default", "--keep-last", "1"});

  json report = s.RunJson({"gc"});
  CHECK(report.at("checkpoints_removed") == 2);
  CHECK(Reasons(DecisionOf(report, "r", 1)) == std::vector<std::string>{"tag keep-me"});
  CHECK(Steps(s, "r") == std::vector<uint64_t>{1, 4});
  std::string out = s.dir.Sub("out.safetensors");
  s.RunOk({"export", "keep-me", "-o", out});
  CHECK(ReadFileBytes(out) == ReadFileBytes(s.FileOf("r", 1)));

  CommandResult rm = s.Run({"rm", "keep-me"});
  CHECK(rm.exit_code == 5);
  CHECK(Lines(rm.err) == 1);
  CHECK(rm.err.find("tagged with keep-me") != std::string::npos);
  CHECK(rm.err.find("--force") != std::string::npos);
  CHECK(s.Run({"rm", "r@1"}).exit_code == 5);
  CHECK(Steps(s, "r") == std::vector<uint64_t>{1, 4});

  s.RunOk({"rm", "r@4"});  // untagged: no --force needed
  s.RunOk({"rm", "--force", "r@1"});
  CHECK(s.RunJson({"log"}).at("checkpoints").empty());
  CHECK(s.RunJson({"tag", "--list"}).at("tags").empty());
}

TEST_CASE("cli gc: runs without a policy are kept and named", "[integration][cli][gc]") {
  CliStore s;
  s.Init();
  for (uint64_t step = 1; step <= 3; ++step) {
    ImportWithLoss(s, "a", step, 1.0);
    ImportWithLoss(s, "b", step, 1.0);
  }
  s.RunOk({"policy", "set", "a", "--keep-last", "1"});

  json report = s.RunJson({"gc"});
  CHECK(report.at("runs_without_policy") == json::array({"b"}));
  CHECK(report.at("checkpoints_removed") == 2);
  CHECK(Steps(s, "a") == std::vector<uint64_t>{3});
  CHECK(Steps(s, "b") == std::vector<uint64_t>{1, 2, 3});
  CHECK(s.RunOk({"gc", "--dry-run"}).out.find("no policy for run b") != std::string::npos);

  SECTION("--run limits removal to one run") {
    s.RunOk({"policy", "set", "--default", "--keep-last", "1"});
    json only_a = s.RunJson({"gc", "--run", "a"});
    CHECK(only_a.at("checkpoints_removed") == 0);
    CHECK(Steps(s, "b") == std::vector<uint64_t>{1, 2, 3});
    CHECK(s.Run({"gc", "--run", "nosuch"}).exit_code == 3);
  }
}

}  // namespace
}  // namespace ckpt::test
