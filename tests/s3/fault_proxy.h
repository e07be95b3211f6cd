// A TCP proxy between the S3 client and the server that injects the
// network's failures on command: refused connections, 503 answers, a
// connection cut part way through an upload, a server that stops
// answering. A test double: it lives with the tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ckpt::test {

enum class NetFault {
  kRefuse,     // the connection is closed at once, before any answer
  kAnswer503,  // the request is answered "503 Slow Down" and the connection closed
  kCutUpload,  // forwarded until `cut_after_bytes` of the request, then both sides closed
  kStall,      // the request is read and never answered
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1 (a free port) and forwards to `target_port` there.
  explicit FaultProxy(int target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // "http://127.0.0.1:PORT"
  std::string endpoint() const;
  // The next connections meet these faults, in order (then pass through).
  // Open pass-through connections are closed, so that the client's next
  // request opens a connection that meets the fault.
  void Inject(const std::vector<NetFault>& faults);
  // Every connection from now on meets `fault` until Heal().
  void FailAll(NetFault fault);
  void Heal();
  void set_cut_after_bytes(size_t n) { cut_after_bytes_ = n; }
  // Faults injected so far.
  uint64_t faults_injected() const { return injected_; }

 private:
  void AcceptLoop();
  void Serve(int client, NetFault fault, bool faulty);
  void DropOpenConnections();

  int listen_fd_ = -1;
  int port_ = 0;
  int target_port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> cut_after_bytes_{64 * 1024};
  std::atomic<uint64_t> injected_{0};
  std::mutex mu_;
  std::deque<NetFault> queue_;
  bool fail_all_ = false;
  NetFault fail_all_fault_ = NetFault::kRefuse;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace ckpt::test
