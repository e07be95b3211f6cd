// repo/index_log: the index log of a store in object storage, which makes
// the RocksDB index on each host a replica of one history.
//
// Every commit of a writer session is first appended to the bucket as the
// object log/<seq> (20 decimal digits), created only if absent, and only
// then applied to the local index together with its position ('l' key).
// Of two hosts that append the same <seq> exactly one succeeds, so the
// records form one sequence; a host catches up by reading the records past
// its position, in order. Losing a host's index loses nothing: replaying
// the log from the start rebuilds it. See docs/design.md ("Object
// storage") and docs/format.md ("Index log").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/result.h"
#include "index/index.h"

namespace ckpt::internal {

struct StoreContext;

inline constexpr const char* kLogPrefix = "log/";
inline constexpr const char* kLogSnapshotPrefix = "logsnap/";

// "log/00000000000000000042" for 42.
std::string LogObjectName(uint64_t seq);
// "logsnap/00000000000000000042": the index as of record 42.
std::string LogSnapshotName(uint64_t seq);

// The record of `batch` as the `seq`-th of the log:
//   "ckptlog1" seq:fixed64 count:fixed32
//   count x ( kind:u8 (1 put, 2 delete) key:lstr [value:lstr if put] )
//   sha256:32 (of everything before it)
Result<std::string> EncodeLogRecord(uint64_t seq, const IndexBatch& batch);
// Appends the mutations of record `bytes` to `out`. Errors: kCorruption
// naming `what` (bad checksum, malformed, or not the `seq`-th record).
Status DecodeLogRecord(const std::string& bytes, uint64_t seq, const std::string& what,
                       IndexBatch* out);

// The last log record `index` holds (0: none).
Result<uint64_t> LogPosition(Index& index);

// Whether the bucket's log holds records past the position of `index`.
Result<bool> LogHasNews(StoreContext& ctx, Index& index);

// Applies to `index` (read-write, without commit hook) the records of the
// log past its position, in order. With `from_snapshot`, an index at
// position 0 (a new cache) starts from the newest snapshot of the index, if
// there is one that reads back whole, and replays only the records after
// it; repair replays the whole log instead, which alone is the truth.
// Errors: kCorruption (a gap in the log, a damaged record), the backend's.
Status CatchUpFromLog(StoreContext& ctx, Index& index, bool from_snapshot = true);

// The numbers of the snapshots in the bucket, ascending (one LIST).
Result<std::vector<uint64_t>> LogSnapshots(StoreContext& ctx);

// Puts the snapshot of `index` (a view or session caught up with the log)
// as of its position: a log record of that number holding a put of every key but the
// host-local ones ('l', 'i'). Then removes the snapshots older than the one
// before it, which a host may still be reading. Holds the whole record in
// memory (about the size of the index's keys and values). Errors: the
// backend's, the index's.
Status WriteLogSnapshot(StoreContext& ctx, Index& index);

// Checks the whole log as a host without a cache would replay it: records
// numbered 1, 2, ... without a gap (one LIST) and, with `read_records`, each
// one whole (a HEAD and a GET each), and each snapshot whole, of a record
// the log has. Appends a kCorruption status naming the record for each
// problem to `problems`, as catch-up would stop at the first. Errors: the
// backend's.
Status CheckLog(StoreContext& ctx, bool read_records, std::vector<Status>* problems);

// The commit hook of a writer session: appends `batch` as the next record
// and adds the new position to it. Errors: kBusy if another host appended
// that record first (nothing is applied: the caller's operation fails
// whole), the backend's.
Status AppendToLog(StoreContext& ctx, Index& index, IndexBatch& batch);

}  // namespace ckpt::internal
