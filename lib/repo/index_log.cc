#include "repo/index_log.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "index/index_keys.h"
#include "repo/store_context.h"
#include "util/bytes.h"

namespace ckpt::internal {

namespace {

constexpr std::string_view kMagic = "ckptlog1";
constexpr uint8_t kPut = 1;
constexpr uint8_t kDelete = 2;
constexpr size_t kDigestSize = 32;
// Records applied in one local commit while catching up: a bound on the
// memory a long catch-up takes.
constexpr size_t kCatchUpBatchBytes = 64 << 20;

std::string PositionValue(uint64_t seq) {
  std::string value;
  PutFixed64(&value, seq);
  return value;
}

// The sequence number in the name of a log record or snapshot (under
// `prefix`), or 0 if it is not one.
uint64_t SeqOfName(const std::string& name, std::string_view prefix = kLogPrefix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return 0;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() != 20 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::strtoull(digits.c_str(), nullptr, 10);
}

std::string NumberedName(std::string_view prefix, uint64_t seq) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%020" PRIu64, seq);
  return std::string(prefix) + digits;
}

// Keys each host keeps for itself, never logged.
bool IsLocalKey(std::string_view key) { return key == kLogPositionKey || key == kCacheStoreIdKey; }

// Decodes snapshot `seq` into `out`: a log record of that number with
// puts only, of no local key.
Status DecodeLogSnapshot(const std::string& bytes, uint64_t seq, const std::string& what,
                         IndexBatch* out) {
  CKPT_RETURN_IF_ERROR(DecodeLogRecord(bytes, seq, what, out));
  Status shape = Status::OK();
  CKPT_RETURN_IF_ERROR(out->ForEach(
      [&](std::string_view key, std::string_view) {
        if (IsLocalKey(key) && shape.ok())
          shape = Status::Corruption(what + ": a snapshot holds the local key '" +
                                     std::string(key) + "'");
      },
      [&](std::string_view) {
        if (shape.ok()) shape = Status::Corruption(what + ": a snapshot holds a deletion");
      }));
  return shape;
}

// Applies to `index` (at position 0) the newest snapshot that reads back
// whole, of a record the log has, and returns its number; 0 if there is
// none. Another is passed over: the log records it would summarize are
// all still there, and verify reports it.
Result<uint64_t> StartFromSnapshot(StoreContext& ctx, Index& index) {
  CKPT_ASSIGN_OR_RETURN(std::vector<uint64_t> seqs, LogSnapshots(ctx));
  for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) {
    const std::string name = LogSnapshotName(*it);
    Result<std::string> bytes = ctx.backend->GetWhole(name);
    if (bytes.status().code() == Code::kNotFound) continue;  // a gc removed it meanwhile
    if (!bytes.ok()) return bytes.status();
    IndexBatch batch;
    if (!DecodeLogSnapshot(*bytes, *it, ctx.backend->Describe() + "/" + name, &batch).ok())
      continue;
    // A snapshot past the log's end would make this host append after a
    // gap that every later replay stops at.
    const Status record = ctx.backend->Size(LogObjectName(*it)).status();
    if (record.code() == Code::kNotFound) continue;
    CKPT_RETURN_IF_ERROR(record);
    batch.Put(kLogPositionKey, PositionValue(*it));
    CKPT_RETURN_IF_ERROR(index.Commit(batch));
    return *it;
  }
  return uint64_t{0};
}

// Records fetched at once while catching up, by as many threads: a new
// host replays a long log at the bandwidth of parallel requests rather than
// at one round trip per record.
constexpr size_t kFetchWindow = 64;
constexpr size_t kFetchThreads = 8;

std::vector<Result<std::string>> FetchRecords(StoreContext& ctx,
                                              const std::vector<std::string>& names, size_t begin,
                                              size_t end) {
  std::vector<Result<std::string>> out(end - begin, Status::Aborted("not fetched"));
  std::atomic<size_t> next{begin};
  auto fetch = [&] {
    for (size_t i = next++; i < end; i = next++) {
      out[i - begin] = ctx.backend->GetWhole(names[i]);
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(kFetchThreads, end - begin); ++t) threads.emplace_back(fetch);
  fetch();
  for (auto& t : threads) t.join();
  return out;
}

// CheckLog's part for the snapshots: each of a record the log has (`last`
// the log's last) and, with `read`, whole.
Status CheckSnapshots(StoreContext& ctx, uint64_t last, bool read, std::vector<Status>* problems) {
  CKPT_ASSIGN_OR_RETURN(std::vector<std::string> names, ctx.backend->List(kLogSnapshotPrefix));
  for (const std::string& name : names) {
    const std::string what = ctx.backend->Describe() + "/" + name;
    const uint64_t seq = SeqOfName(name, kLogSnapshotPrefix);
    if (seq == 0) {
      problems->push_back(Status::Corruption(what + ": not an index snapshot name"));
      continue;
    }
    if (seq > last) {
      problems->push_back(Status::Corruption(what + ": a snapshot of record " +
                                             std::to_string(seq) + ", past the log's last (" +
                                             std::to_string(last) + ")"));
    }
    if (!read) continue;
    Result<std::string> bytes = ctx.backend->GetWhole(name);
    if (bytes.status().code() == Code::kNotFound) continue;  // a gc removed it meanwhile
    if (!bytes.ok()) return bytes.status();
    IndexBatch decoded;
    Status s = DecodeLogSnapshot(*bytes, seq, what, &decoded);
    if (!s.ok()) problems->push_back(s);
  }
  return Status::OK();
}

}  // namespace

std::string LogObjectName(uint64_t seq) { return NumberedName(kLogPrefix, seq); }

std::string LogSnapshotName(uint64_t seq) { return NumberedName(kLogSnapshotPrefix, seq); }

Result<std::string> EncodeLogRecord(uint64_t seq, const IndexBatch& batch) {
  std::string body;
  uint32_t count = 0;
  CKPT_RETURN_IF_ERROR(batch.ForEach(
      [&](std::string_view key, std::string_view value) {
        body.push_back(static_cast<char>(kPut));
        PutLengthPrefixed(&body, key);
        PutLengthPrefixed(&body, value);
        ++count;
      },
      [&](std::string_view key) {
        body.push_back(static_cast<char>(kDelete));
        PutLengthPrefixed(&body, key);
        ++count;
      }));
  std::string record(kMagic);
  PutFixed64(&record, seq);
  PutFixed32(&record, count);
  record += body;
  const Digest digest = Sha256(record.data(), record.size());
  record.append(reinterpret_cast<const char*>(digest.bytes.data()), kDigestSize);
  return record;
}

Status DecodeLogRecord(const std::string& bytes, uint64_t seq, const std::string& what,
                       IndexBatch* out) {
  auto bad = [&](const std::string& why) { return Status::Corruption(what + ": " + why); };
  if (bytes.size() < kMagic.size() + 12 + kDigestSize) return bad("too short for a log record");
  const size_t body_size = bytes.size() - kDigestSize;
  const Digest digest = Sha256(bytes.data(), body_size);
  if (bytes.compare(body_size, kDigestSize, reinterpret_cast<const char*>(digest.bytes.data()),
                    kDigestSize) != 0) {
    return bad("checksum mismatch");
  }
  ByteReader reader(std::string_view(bytes).substr(0, body_size));
  std::string_view magic;
  uint64_t record_seq = 0;
  uint32_t count = 0;
  if (!reader.GetBytes(kMagic.size(), &magic) || magic != kMagic) return bad("not a log record");
  if (!reader.GetFixed64(&record_seq) || !reader.GetFixed32(&count)) return bad("truncated");
  if (record_seq != seq) {
    return bad("holds record " + std::to_string(record_seq) + ", not " + std::to_string(seq));
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t kind = 0;
    std::string_view key;
    std::string_view value;
    if (!reader.GetByte(&kind) || !reader.GetLengthPrefixed(&key)) return bad("truncated");
    if (kind == kPut) {
      if (!reader.GetLengthPrefixed(&value)) return bad("truncated");
      out->Put(key, value);
    } else if (kind == kDelete) {
      out->Delete(key);
    } else {
      return bad("unknown mutation kind " + std::to_string(kind));
    }
  }
  if (!reader.AtEnd()) return bad("trailing bytes");
  return Status::OK();
}

Result<uint64_t> LogPosition(Index& index) {
  CKPT_ASSIGN_OR_RETURN(auto value, index.Get(kLogPositionKey));
  if (!value) return uint64_t{0};
  if (value->size() != 8) return Status::Corruption("index: malformed log position");
  return DecodeFixed64(value->data());
}

Result<bool> LogHasNews(StoreContext& ctx, Index& index) {
  CKPT_ASSIGN_OR_RETURN(uint64_t position, LogPosition(index));
  CKPT_ASSIGN_OR_RETURN(std::vector<std::string> names,
                        ctx.backend->ListAfter(kLogPrefix, LogObjectName(position)));
  return !names.empty();
}

Status CatchUpFromLog(StoreContext& ctx, Index& index, bool from_snapshot) {
  CKPT_ASSIGN_OR_RETURN(uint64_t position, LogPosition(index));
  if (position == 0 && from_snapshot) {
    CKPT_ASSIGN_OR_RETURN(position, StartFromSnapshot(ctx, index));
  }
  CKPT_ASSIGN_OR_RETURN(std::vector<std::string> names,
                        ctx.backend->ListAfter(kLogPrefix, LogObjectName(position)));
  IndexBatch batch;
  size_t batch_bytes = 0;
  auto flush = [&]() -> Status {
    if (batch_bytes == 0) return Status::OK();
    batch.Put(kLogPositionKey, PositionValue(position));
    CKPT_RETURN_IF_ERROR(index.Commit(batch));
    batch.Clear();
    batch_bytes = 0;
    return Status::OK();
  };
  for (size_t begin = 0; begin < names.size(); begin += kFetchWindow) {
    const size_t end = std::min(names.size(), begin + kFetchWindow);
    std::vector<Result<std::string>> records = FetchRecords(ctx, names, begin, end);
    for (size_t i = begin; i < end; ++i) {
      const uint64_t seq = SeqOfName(names[i]);
      const std::string what = ctx.backend->Describe() + "/" + names[i];
      if (seq == 0) return Status::Corruption(what + ": not a log record name");
      if (seq != position + 1) {
        return Status::Corruption(what + ": the index log jumps from record " +
                                  std::to_string(position) + " to " + std::to_string(seq));
      }
      Result<std::string>& bytes = records[i - begin];
      if (!bytes.ok()) return bytes.status();
      CKPT_RETURN_IF_ERROR(DecodeLogRecord(*bytes, seq, what, &batch));
      position = seq;
      batch_bytes += bytes->size() + 1;
      if (batch_bytes >= kCatchUpBatchBytes) CKPT_RETURN_IF_ERROR(flush());
    }
  }
  return flush();
}

Result<std::vector<uint64_t>> LogSnapshots(StoreContext& ctx) {
  CKPT_ASSIGN_OR_RETURN(std::vector<std::string> names, ctx.backend->List(kLogSnapshotPrefix));
  std::vector<uint64_t> seqs;
  for (const std::string& name : names) {
    const uint64_t seq = SeqOfName(name, kLogSnapshotPrefix);
    if (seq != 0) seqs.push_back(seq);
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

Status WriteLogSnapshot(StoreContext& ctx, Index& index) {
  CKPT_ASSIGN_OR_RETURN(uint64_t position, LogPosition(index));
  if (position == 0) return Status::OK();
  IndexBatch all;
  CKPT_RETURN_IF_ERROR(index.Scan("", [&](std::string_view key, std::string_view value) {
    if (!IsLocalKey(key)) all.Put(key, value);
    return true;
  }));
  CKPT_ASSIGN_OR_RETURN(std::string record, EncodeLogRecord(position, all));
  const std::string name = LogSnapshotName(position);
  CKPT_RETURN_IF_ERROR(ctx.backend->Put(name, record.data(), record.size())
                           .WithContext("write index snapshot " + name));
  CKPT_ASSIGN_OR_RETURN(std::vector<uint64_t> seqs, LogSnapshots(ctx));
  std::vector<std::string> old;
  for (uint64_t seq : seqs) {
    if (seq < position) old.push_back(LogSnapshotName(seq));
  }
  if (!old.empty()) old.pop_back();  // the one before: a host may be reading it
  if (old.empty()) return Status::OK();
  return ctx.backend->RemoveMany(old).WithContext("remove older index snapshots");
}

Status CheckLog(StoreContext& ctx, bool read_records, std::vector<Status>* problems) {
  CKPT_ASSIGN_OR_RETURN(std::vector<std::string> names, ctx.backend->List(kLogPrefix));
  std::sort(names.begin(), names.end());
  uint64_t expected = 1;
  for (size_t begin = 0; begin < names.size(); begin += kFetchWindow) {
    const size_t end = std::min(names.size(), begin + kFetchWindow);
    std::vector<Result<std::string>> records;
    if (read_records) records = FetchRecords(ctx, names, begin, end);
    for (size_t i = begin; i < end; ++i) {
      const uint64_t seq = SeqOfName(names[i]);
      const std::string what = ctx.backend->Describe() + "/" + names[i];
      if (seq == 0) {
        problems->push_back(Status::Corruption(what + ": not a log record name"));
        continue;
      }
      if (seq != expected) {
        problems->push_back(Status::Corruption(what + ": the index log jumps from record " +
                                               std::to_string(expected - 1) + " to " +
                                               std::to_string(seq)));
      }
      expected = seq + 1;
      if (!read_records) continue;
      const Result<std::string>& bytes = records[i - begin];
      if (!bytes.ok()) return bytes.status();
      IndexBatch decoded;  // only decoded: nothing is applied
      Status s = DecodeLogRecord(*bytes, seq, what, &decoded);
      if (!s.ok()) problems->push_back(s);
    }
  }
  return CheckSnapshots(ctx, expected - 1, read_records, problems);
}

Status AppendToLog(StoreContext& ctx, Index& index, IndexBatch& batch) {
  if (batch.empty()) return Status::OK();
  CKPT_ASSIGN_OR_RETURN(uint64_t position, LogPosition(index));
  const uint64_t seq = position + 1;
  CKPT_ASSIGN_OR_RETURN(std::string record, EncodeLogRecord(seq, batch));
  const std::string name = LogObjectName(seq);
  Status s = ctx.backend->Create(name, record.data(), record.size());
  if (s.code() == Code::kAlreadyExists) {
    return Status::Busy(ctx.backend->Describe() + "/" + name +
                        ": another host committed to the store meanwhile (its lease on the "
                        "index had expired?); nothing of this operation was committed: retry it");
  }
  CKPT_RETURN_IF_ERROR(s.WithContext("append to the index log"));
  batch.Put(kLogPositionKey, PositionValue(seq));
  return Status::OK();
}

}  // namespace ckpt::internal
