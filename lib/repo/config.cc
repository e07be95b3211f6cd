#include "repo/config.h"

#include <charconv>
#include <sstream>

#include "ckpt/version.h"
#include "util/hex.h"

namespace ckpt::internal {

std::string EncodeConfig(const StoreConfig& c) {
  std::ostringstream out;
  out << "ckpt-store\n"
      << "format_version=" << c.format_version << "\n"
      << "chunk_size=" << c.chunk_size << "\n"
      << "zstd_level=" << c.zstd_level << "\n"
      << "delta_max_depth=" << c.delta_max_depth << "\n"
      << "store_id=" << c.store_id << "\n";
  return out.str();
}

Status DecodeConfig(const std::string& text, StoreConfig* out) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != "ckpt-store")
    return Status::Corruption("config: not a ckpt store config");
  bool has_version = false;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) return Status::Corruption("config: malformed line '" + line + "'");
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    int64_t number = 0;
    bool numeric = key == "format_version" || key == "chunk_size" || key == "zstd_level" ||
                   key == "delta_max_depth";
    if (numeric) {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
      if (ec != std::errc() || end != value.data() + value.size() || number < 0 ||
          number > INT32_MAX)
        return Status::Corruption("config: bad value in '" + line + "'");
    }
    if (key == "format_version") {
      out->format_version = static_cast<int>(number);
      has_version = true;
    } else if (key == "chunk_size") {
      out->chunk_size = static_cast<uint32_t>(number);
    } else if (key == "zstd_level") {
      out->zstd_level = static_cast<int>(number);
    } else if (key == "delta_max_depth") {
      out->delta_max_depth = static_cast<int>(number);
    } else if (key == "store_id") {
      out->store_id = value;
    }
  }
  if (!has_version) return Status::Corruption("config: format_version missing");
  if (out->format_version > kFormatVersion)
    return Status::VersionMismatch("store format version " + std::to_string(out->format_version) +
                                   " is newer than this library supports (" +
                                   std::to_string(kFormatVersion) + "); upgrade ckpt");
  // Formats 1 to 3 were never released: no store of theirs can hold data
  // that matters, and reading them would keep codecs and index rules alive
  // that nothing writes.
  if (out->format_version < kOldestFormatVersion)
    return Status::VersionMismatch(
        "store format version " + std::to_string(out->format_version) +
        " is an unreleased development format that this library does not read (it reads " +
        std::to_string(kOldestFormatVersion) + " to " + std::to_string(kFormatVersion) + ")");
  if (out->chunk_size < 4096 || out->chunk_size > (64u << 20))
    return Status::Corruption("config: chunk_size " + std::to_string(out->chunk_size) +
                              " is outside 4 KiB .. 64 MiB");
  if (out->zstd_level < 1 || out->zstd_level > 19)
    return Status::Corruption("config: zstd_level out of range");
  if (out->delta_max_depth > kMaxDeltaDepth)
    return Status::Corruption("config: delta_max_depth out of range");
  return Status::OK();
}

namespace {

Status CheckOptions(const StoreOptions& o) {
  if (o.chunk_size < 4096 || o.chunk_size > (64u << 20))
    return Status::InvalidArgument("chunk_size must be within 4 KiB .. 64 MiB, got " +
                                   std::to_string(o.chunk_size));
  if (o.zstd_level < 1 || o.zstd_level > 19)
    return Status::InvalidArgument("zstd_level must be within 1 .. 19, got " +
                                   std::to_string(o.zstd_level));
  if (o.delta_max_depth < 0 || o.delta_max_depth > kMaxDeltaDepth)
    return Status::InvalidArgument("delta_max_depth must be within 0 .. " +
                                   std::to_string(kMaxDeltaDepth) + ", got " +
                                   std::to_string(o.delta_max_depth));
  return Status::OK();
}

}  // namespace

Result<StoreConfig> LoadOrCreateConfig(Backend& backend, const StoreOptions& options,
                                       const std::string& path,
                                       const std::function<Status()>& before_create) {
  auto stored = backend.GetWhole(kConfigObject);
  if (stored.ok()) {
    if (options.error_if_exists) return Status::AlreadyExists("a store exists at " + path);
    StoreConfig config;
    CKPT_RETURN_IF_ERROR(DecodeConfig(*stored, &config).WithContext("store " + path));
    return config;
  }
  if (stored.status().code() != Code::kNotFound) return stored.status();
  if (!options.create_if_missing || options.read_only)
    return Status::NotFound("no ckpt store at " + path + " (run 'ckpt init' first)");
  CKPT_RETURN_IF_ERROR(CheckOptions(options));
  StoreConfig config;
  config.format_version = kFormatVersion;
  config.chunk_size = options.chunk_size;
  config.zstd_level = options.zstd_level;
  config.delta_max_depth = options.delta_max_depth;
  config.store_id = RandomHexId(16);
  if (before_create) CKPT_RETURN_IF_ERROR(before_create());
  std::string text = EncodeConfig(config);
  // Created only if absent: of two hosts creating one store in a bucket at
  // once, one config wins and the other host opens it.
  Status created = backend.Create(kConfigObject, text.data(), text.size());
  if (created.code() == Code::kNotSupported) {
    created = backend.Put(kConfigObject, text.data(), text.size());
  }
  if (created.code() == Code::kAlreadyExists && !options.error_if_exists) {
    StoreOptions open_existing = options;
    open_existing.create_if_missing = false;
    return LoadOrCreateConfig(backend, open_existing, path);
  }
  if (created.code() == Code::kAlreadyExists) {
    return Status::AlreadyExists("a store exists at " + path);
  }
  CKPT_RETURN_IF_ERROR(created);
  return config;
}

Status UpgradeConfigForShards(Backend& backend, const std::string& path, int version) {
  CKPT_ASSIGN_OR_RETURN(std::string text, backend.GetWhole(kConfigObject));
  StoreConfig config;
  CKPT_RETURN_IF_ERROR(DecodeConfig(text, &config).WithContext("store " + path));
  if (config.format_version >= version) return Status::OK();
  // Every other field as it was: two processes upgrading at once write the
  // same bytes.
  config.format_version = version;
  std::string upgraded = EncodeConfig(config);
  return backend.Put(kConfigObject, upgraded.data(), upgraded.size())
      .WithContext("upgrade store " + path + " to format " + std::to_string(version));
}

}  // namespace ckpt::internal
