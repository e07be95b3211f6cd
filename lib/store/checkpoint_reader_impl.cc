#include "store/checkpoint_reader_impl.h"

#include "repo/checkpoint_remover.h"
#include "repo/index_sessions.h"
#include "repo/loader.h"
#include "repo/ref_resolver.h"

namespace ckpt::internal {

Result<std::unique_ptr<CheckpointReaderImpl>> CheckpointReaderImpl::Open(StoreContext& ctx,
                                                                         const std::string& ref) {
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(ctx));
  std::unique_ptr<CheckpointReaderImpl> reader(new CheckpointReaderImpl(ctx, std::move(index)));
  CKPT_ASSIGN_OR_RETURN(reader->checkpoint_, ResolveRef(*reader->index_, ref));
  CKPT_ASSIGN_OR_RETURN(auto tags, TagsOfCheckpoint(*reader->index_, reader->checkpoint_.id));
  reader->detail_ = MakeDetail(reader->checkpoint_, tags);
  return reader;
}

Result<const ManifestEntry*> CheckpointReaderImpl::Find(const std::string& name) const {
  const ManifestEntry* e = checkpoint_.manifest.Find(name);
  if (!e)
    return Status::NotFound("checkpoint " + checkpoint_.Label() + " has no entry '" + name + "'");
  return e;
}

Status CheckpointReaderImpl::ReadEntry(const std::string& name, void* dst, size_t dst_size,
                                       const LoadOptions& options) {
  CKPT_ASSIGN_OR_RETURN(const ManifestEntry* e, Find(name));
  if (dst_size != e->byte_length)
    return Status::InvalidArgument("buffer of " + std::to_string(dst_size) + " bytes for '" + name +
                                   "' of " + std::to_string(e->byte_length) + " bytes");
  return ReadEntries(ctx_, *index_, checkpoint_, {e}, {static_cast<uint8_t*>(dst)},
                     options.progress);
}

Status CheckpointReaderImpl::ReadRange(const std::string& name, uint64_t offset, uint64_t length,
                                       void* dst) {
  CKPT_ASSIGN_OR_RETURN(const ManifestEntry* e, Find(name));
  return ReadEntryRange(ctx_, *index_, checkpoint_, *e, offset, length, static_cast<uint8_t*>(dst));
}

Status CheckpointReaderImpl::StreamEntries(const std::vector<std::string>& names,
                                           const PieceSink& sink, const LoadOptions& options) {
  std::vector<const ManifestEntry*> entries;
  entries.reserve(names.size());
  for (const std::string& name : names) {
    CKPT_ASSIGN_OR_RETURN(const ManifestEntry* e, Find(name));
    entries.push_back(e);
  }
  return internal::StreamEntries(ctx_, *index_, checkpoint_, entries, sink, options.progress);
}

}  // namespace ckpt::internal
