#include "s3/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ckpt::test {

namespace {

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads until the end of the request's headers (or the peer closes).
void ReadHeaders(int fd) {
  std::string seen;
  char buf[4096];
  while (seen.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    seen.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

FaultProxy::FaultProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("fault proxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  DropOpenConnections();
  for (auto& t : workers_) t.join();
}

std::string FaultProxy::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FaultProxy::DropOpenConnections() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
}

void FaultProxy::Inject(const std::vector<NetFault>& faults) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.insert(queue_.end(), faults.begin(), faults.end());
  }
  DropOpenConnections();
}

void FaultProxy::FailAll(NetFault fault) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    fail_all_ = true;
    fail_all_fault_ = fault;
  }
  DropOpenConnections();
}

void FaultProxy::Heal() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_all_ = false;
  queue_.clear();
}

void FaultProxy::AcceptLoop() {
  while (!stop_) {
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (stop_) return;
      continue;
    }
    NetFault fault = NetFault::kRefuse;
    bool faulty = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fail_all_) {
        faulty = true;
        fault = fail_all_fault_;
      } else if (!queue_.empty()) {
        faulty = true;
        fault = queue_.front();
        queue_.pop_front();
      }
      open_fds_.push_back(client);
      workers_.emplace_back([this, client, fault, faulty] { Serve(client, fault, faulty); });
    }
    if (faulty) ++injected_;
  }
}

void FaultProxy::Serve(int client, NetFault fault, bool faulty) {
  auto finish = [&](int server) {
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), client), open_fds_.end());
    ::close(client);
    if (server >= 0) ::close(server);
  };
  if (faulty && fault == NetFault::kRefuse) return finish(-1);
  if (faulty && fault == NetFault::kAnswer503) {
    ReadHeaders(client);
    const char* answer =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
        "Content-Length: 57\r\nConnection: close\r\n\r\n"
        "<Error><Code>SlowDown</Code><Message>x</Message></Error>\n";
    SendAll(client, answer, std::strlen(answer));
    return finish(-1);
  }
  if (faulty && fault == NetFault::kStall) {
    // Holds the connection open, answering nothing, until the client gives
    // up or the proxy is destroyed.
    char buf[4096];
    while (!stop_) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0 && ::recv(client, buf, sizeof buf, 0) <= 0) break;
    }
    return finish(-1);
  }
  int server = Connect(target_port_);
  if (server < 0) return finish(-1);
  size_t forwarded_up = 0;
  const size_t cut = faulty ? cut_after_bytes_.load() : SIZE_MAX;
  char buf[64 * 1024];
  pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
  while (!stop_) {
    if (::poll(fds, 2, 100) < 0) break;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(client, buf, std::min(sizeof buf, cut - forwarded_up), 0);
      if (n <= 0 || !SendAll(server, buf, static_cast<size_t>(n))) break;
      forwarded_up += static_cast<size_t>(n);
      if (forwarded_up >= cut) break;  // the cut: both sides closed mid-request
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(server, buf, sizeof buf, 0);
      if (n <= 0 || !SendAll(client, buf, static_cast<size_t>(n))) break;
    }
  }
  finish(server);
}

}  // namespace ckpt::test
