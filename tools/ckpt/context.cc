#include "context.h"

#include <fmt/core.h>

#include <cstdio>

#include "exit_codes.h"
#include "json_out.h"

namespace ckpt::cli {

Result<std::unique_ptr<Store>> OpenStore(const Context& ctx, bool read_only) {
  StoreOptions options;
  options.read_only = read_only;
  // The library's messages already name the path.
  return Store::Open(options, ctx.store_path);
}

int Finish(const Context& ctx, const Status& status) {
  if (status.ok()) return kExitOk;
  std::fflush(stdout);
  fmt::print(stderr, "ckpt: error: {}\n", status.ToString());
  if (ctx.json) PrintJson(ErrorJson(status));
  return ExitCodeFor(status.code());
}

void PrintJson(const nlohmann::json& j) {
  // Replace invalid UTF-8 (names and attributes are arbitrary bytes) rather
  // than throw halfway through the output.
  fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Say(const Context& ctx, const std::string& line) {
  if (!ctx.quiet && !ctx.json) fmt::print("{}\n", line);
}

}  // namespace ckpt::cli
