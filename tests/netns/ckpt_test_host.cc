// ckpt_test_host: one "host" of tests/netns/hosts_test.sh, run inside a
// network namespace of its own (`ip netns exec`). It opens the store at URL
// (s3://...) with the index cache that $CKPT_CACHE_DIR names, as a process
// on another machine would, and does one thing:
//
//   save-shard URL RUN STEP RANK WORLD SCALE [PAUSE]
//       saves rank RANK's shard of ShardedState(WORLD, STEP, SCALE); prints
//       "step S recorded", "step S committed" (the last shard) or "step S
//       exists"
//   save-step URL RUN STEP BASE [PAUSE]
//       saves StepState(STEP, BASE); prints "step S committed" or "step S
//       exists" (another host saved RUN@STEP first)
//   save-steps URL RUN FIRST LAST
//       saves StepState(step) for each step; prints "step S committed"
//   gc-until URL STOP_FILE GRACE_SECONDS RUN KEEP_LAST
//       gives RUN a policy keeping its last KEEP_LAST checkpoints, then runs
//       gc until STOP_FILE exists, and once more; prints "gc N" after each
//       run, and "runs N failures F" at the end
//   check-shards URL RUN STEP WORLD SCALE
//       loads RUN@STEP whole and compares it with ShardedState(WORLD, STEP,
//       SCALE), then reads it as jobs of 3 and 2 ranks would (LoadBox)
//   check-steps URL RUN BASE
//       loads every checkpoint of RUN and compares it with StepState(step,
//       BASE); prints "steps S1 S2 ..."
//   check-step URL RUN STEP BASE
//       the same for RUN@STEP alone
//   absent URL RUN STEP
//       succeeds if RUN@STEP is not visible (kNotFound)
//   list URL
//       prints every checkpoint as "RUN@STEP ID", sorted
//   verify URL
//       verifies the store reading every chunk; prints each problem
//
// PAUSE stops the process (SIGSTOP, after printing "paused POINT PID") at a chosen
// point of the save, for the test to kill it, cut its link or release it
// with SIGCONT: "pause-before-upload" (before its first pack is uploaded) or
// "pause-before-commit" (every pack uploaded, before what commits the save:
// the writer lease of an unsharded save, the staging of a shard).
//
// Requests time out after seconds rather than the default half minute, so
// that a save whose link was cut fails within the test's time.
//
// Exit codes: 0 done, 1 a check failed, 3 an operation failed (the error on
// stderr), 2 usage.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "ckpt/s3.h"
#include "doubles/fault_injecting_backend.h"
#include "store/shard_fixture.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

struct Failed {
  int code;
  std::string why;
};

[[noreturn]] void Fail(int code, const std::string& why) { throw Failed{code, why}; }

void Check(bool ok, const std::string& what) {
  if (!ok) Fail(1, "check failed: " + what);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Fail(3, what + ": " + r.status().ToString());
  return std::move(r).value();
}

void Must(const Status& s, const std::string& what) {
  if (!s.ok()) Fail(3, what + ": " + s.ToString());
}

// The store through a backend that can stop the process at `pause`.
std::unique_ptr<Store> OpenHost(const std::string& url, const std::string& pause = "") {
  S3Options s3 = Must(S3OptionsFromUrl(url), "parse " + url);
  s3.connect_timeout_ms = 3000;
  s3.stall_timeout_ms = 5000;
  s3.max_attempts = 3;
  auto faulty = std::make_shared<internal::FaultInjectingBackend>(
      Must(NewS3Backend(s3), "S3 backend for " + url));
  auto stop = [pause] {
    std::printf("paused %s %d\n", pause.c_str(), static_cast<int>(getpid()));
    std::fflush(stdout);
    raise(SIGSTOP);
  };
  if (pause == "pause-before-upload") {
    faulty->BeforeNextPut("packs/", stop);
  } else if (pause == "pause-before-commit") {
    faulty->BeforeNextCreate("locks/index", stop);
    faulty->BeforeNextPut("shards/", stop);
  } else if (!pause.empty()) {
    Fail(2, "unknown pause point " + pause);
  }
  StoreOptions options;
  options.backend = faulty;
  options.pack_target_size = 256 * 1024;  // several packs per shard
  return MustOpen(url, options);
}

void PrintStep(uint64_t step, const char* what) {
  std::printf("step %llu %s\n", static_cast<unsigned long long>(step), what);
  std::fflush(stdout);
}

// "exists" if another host committed RUN@STEP first; any other error fails.
void ReportSave(uint64_t step, const Result<CheckpointInfo>& info) {
  if (!info.ok() && info.status().code() == Code::kAlreadyExists) return PrintStep(step, "exists");
  Must(info.status(), "save step " + std::to_string(step));
  PrintStep(step, info->shards_missing == 0 ? "committed" : "recorded");
}

void SaveShard(const std::vector<std::string>& a) {
  const uint64_t step = std::stoull(a[3]);
  auto store = OpenHost(a[1], a.size() > 7 ? a[7] : "");
  RankShard shard(ShardedState(std::stoi(a[5]), step, std::stoll(a[6])), a[2], std::stoi(a[4]));
  ReportSave(step, store->Save(shard.request));
}

void SaveStep(const std::vector<std::string>& a) {
  const uint64_t step = std::stoull(a[3]);
  auto store = OpenHost(a[1], a.size() > 5 ? a[5] : "");
  const StepState state(step, std::stoull(a[4]));
  ReportSave(step, store->Save(state.Request(a[2], step)));
}

void SaveSteps(const std::vector<std::string>& a) {
  auto store = OpenHost(a[1]);
  for (uint64_t step = std::stoull(a[3]); step <= std::stoull(a[4]); ++step) {
    Must(store->Save(StepState(step).Request(a[2], step)).status(),
         "save step " + std::to_string(step));
    PrintStep(step, "committed");
  }
}

void GcUntil(const std::vector<std::string>& a) {
  auto store = OpenHost(a[1]);
  RetentionPolicy policy;
  policy.keep_last = static_cast<uint32_t>(std::stoul(a[5]));
  Must(store->SetPolicy(a[4], policy), "set policy");
  GcOptions options;
  options.grace_seconds = std::stoll(a[3]);
  uint64_t runs = 0, failures = 0;
  for (bool last = false; !last;) {
    last = std::filesystem::exists(a[2]);
    auto report = store->Gc(options);
    runs++;
    if (!report.ok()) {
      failures++;
      std::fprintf(stderr, "gc failed: %s\n", report.status().ToString().c_str());
    }
    std::printf("gc %llu\n", static_cast<unsigned long long>(runs));
    std::fflush(stdout);
  }
  std::printf("runs %llu failures %llu\n", static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(failures));
}

const Tensor* FindTensor(const LoadedCheckpoint& c, const std::string& name) {
  for (const auto& t : c.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const Blob* FindBlob(const LoadedCheckpoint& c, const std::string& name) {
  for (const auto& b : c.blobs)
    if (b.name == name) return &b;
  return nullptr;
}

void CheckShards(const std::vector<std::string>& a) {
  const std::string ref = a[2] + "@" + a[3];
  const uint64_t step = std::stoull(a[3]);
  const int64_t scale = std::stoll(a[5]);
  const ShardedState s(std::stoi(a[4]), step, scale);
  auto store = OpenHost(a[1]);
  LoadedCheckpoint c = Must(store->Load(ref), "load " + ref);
  for (const auto& [name, t] : s.tensors) {
    const Tensor* got = FindTensor(c, name);
    Check(got && got->shape == t.shape && got->data == t.bytes, ref + ":" + name + " whole");
  }
  const Tensor* bias = FindTensor(c, "bias");
  Check(bias && bias->data == s.bias, ref + ":bias");
  for (int r = 0; r < s.world; ++r) {
    const std::string rank = "rank" + std::to_string(r);
    const Blob* rng = FindBlob(c, rank + "/rng");
    const Tensor* cursor = FindTensor(c, rank + "/cursor");
    Check(rng && rng->data == s.Rng(r), ref + ":" + rank + "/rng");
    Check(cursor && cursor->data == s.Cursor(r), ref + ":" + rank + "/cursor");
  }
  // Resharding: each rank of a job of another size reads only its boxes.
  size_t boxes = 0;
  for (int world : {3, 2}) {
    const ShardedState other(world, step, scale);
    for (const auto& [name, t] : other.tensors) {
      for (int r = 0; r < world; ++r) {
        for (const TestBox& box : other.BoxesOf(name, r)) {
          std::vector<uint8_t> got(t.Slice(box).size());
          Must(store->LoadBox(ref, name, box.offsets, box.shape, got.data(), got.size()),
               "load a box of " + ref + ":" + name);
          Check(got == t.Slice(box), ref + ":" + name + " box of rank " + std::to_string(r) +
                                         " of " + std::to_string(world));
          boxes++;
        }
      }
    }
  }
  std::printf("ok %s: whole, and %zu boxes for 3 and 2 ranks\n", ref.c_str(), boxes);
}

void CheckSteps(const std::vector<std::string>& a) {
  auto store = OpenHost(a[1]);
  auto listed = Must(store->ListCheckpoints(a[2]), "list " + a[2]);
  std::printf("steps");
  for (const auto& info : listed) {
    const std::string ref = a[2] + "@" + std::to_string(info.step);
    Check(StepState(info.step, std::stoull(a[3])).Matches(Must(store->Load(ref), "load " + ref)),
          ref + " bit-exact");
    std::printf(" %llu", static_cast<unsigned long long>(info.step));
  }
  std::printf("\n");
}

void CheckStep(const std::vector<std::string>& a) {
  auto store = OpenHost(a[1]);
  const std::string ref = a[2] + "@" + a[3];
  Check(StepState(std::stoull(a[3]), std::stoull(a[4]))
            .Matches(Must(store->Load(ref), "load " + ref)),
        ref + " bit-exact");
  std::printf("ok %s\n", ref.c_str());
}

void Absent(const std::vector<std::string>& a) {
  auto store = OpenHost(a[1]);
  const std::string ref = a[2] + "@" + a[3];
  auto found = store->Resolve(ref);
  Check(!found.ok() && found.status().code() == Code::kNotFound,
        ref + " is not visible (" + found.status().ToString() + ")");
  std::printf("absent %s\n", ref.c_str());
}

void List(const std::vector<std::string>& a) {
  auto store = OpenHost(a[1]);
  for (const auto& info : Must(store->ListCheckpoints(""), "list")) {
    std::printf("%s@%llu %s\n", info.run.c_str(), static_cast<unsigned long long>(info.step),
                info.id.c_str());
  }
}

void VerifyAll(const std::vector<std::string>& a) {
  auto store = OpenHost(a[1]);
  VerifyReport report = Must(store->Verify(ReadAllData()), "verify");
  for (const auto& p : report.problems) std::printf("problem: %s\n", p.status.ToString().c_str());
  Check(report.problems.empty(), "verify finds no problem");
  std::printf("verified %llu chunks\n", static_cast<unsigned long long>(report.chunks_checked));
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  const size_t n = a.size();
  const std::string cmd = n > 0 ? a[0] : "";
  try {
    if (cmd == "save-shard" && (n == 7 || n == 8)) {
      SaveShard(a);
    } else if (cmd == "save-step" && (n == 5 || n == 6)) {
      SaveStep(a);
    } else if (cmd == "save-steps" && n == 5) {
      SaveSteps(a);
    } else if (cmd == "gc-until" && n == 6) {
      GcUntil(a);
    } else if (cmd == "check-shards" && n == 6) {
      CheckShards(a);
    } else if (cmd == "check-steps" && n == 4) {
      CheckSteps(a);
    } else if (cmd == "check-step" && n == 5) {
      CheckStep(a);
    } else if (cmd == "absent" && n == 4) {
      Absent(a);
    } else if (cmd == "list" && n == 2) {
      List(a);
    } else if (cmd == "verify" && n == 2) {
      VerifyAll(a);
    } else {
      Fail(2, "usage: see the comment at the top of ckpt_test_host.cc");
    }
  } catch (const Failed& f) {
    std::fprintf(stderr, "ckpt_test_host %s: %s\n", cmd.c_str(), f.why.c_str());
    return f.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ckpt_test_host %s: %s\n", cmd.c_str(), e.what());
    return 3;
  }
  return 0;
}
