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
  CKPT_ASSIGN_OR_RETURN(reader->detail_, MakeDetail(reader->checkpoint_, tags));
  CKPT_ASSIGN_OR_RETURN(reader->views_, ViewEntries(reader->checkpoint_.manifest));
  for (size_t i = 0; i < reader->views_.size(); ++i)
    reader->by_name_.emplace(reader->views_[i].name, i);
  return reader;
}

Result<const EntryView*> CheckpointReaderImpl::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end())
    return Status::NotFound("checkpoint " + checkpoint_.Label() + " has no entry '" + name + "'");
  return &views_[it->second];
}

Status CheckpointReaderImpl::Read(const std::vector<PartRead>& parts,
                                  const std::vector<uint8_t*>& dsts, const PieceSink& sink,
                                  const ProgressFn& progress) {
  return ReadParts(ctx_, *index_, checkpoint_, parts, dsts, sink, progress);
}

Status CheckpointReaderImpl::ReadEntry(const std::string& name, void* dst, size_t dst_size,
                                       const LoadOptions& options) {
  return ReadEntries({{name, dst, dst_size}}, options);
}

Status CheckpointReaderImpl::ReadEntries(const std::vector<EntryBuffer>& buffers,
                                         const LoadOptions& options) {
  std::vector<PartRead> parts;
  std::vector<uint8_t*> dsts;
  dsts.reserve(buffers.size());
  for (const EntryBuffer& b : buffers) {
    CKPT_ASSIGN_OR_RETURN(const EntryView* v, Find(b.name));
    if (b.size != v->byte_length || (b.dst == nullptr && b.size != 0))
      return Status::InvalidArgument("buffer of " + std::to_string(b.size) + " bytes for '" +
                                     b.name + "' of " + std::to_string(v->byte_length) + " bytes");
    CKPT_RETURN_IF_ERROR(AddViewRead(checkpoint_.manifest, *v, dsts.size(), &parts));
    dsts.push_back(static_cast<uint8_t*>(b.dst));
  }
  return Read(parts, dsts, nullptr, options.progress);
}

Status CheckpointReaderImpl::ReadRange(const std::string& name, uint64_t offset, uint64_t length,
                                       void* dst) {
  CKPT_ASSIGN_OR_RETURN(const EntryView* v, Find(name));
  std::vector<PartRead> parts;
  CKPT_RETURN_IF_ERROR(AddRangeRead(checkpoint_.manifest, *v, offset, length, 0, &parts));
  return Read(parts, {static_cast<uint8_t*>(dst)}, nullptr, nullptr);
}

Status CheckpointReaderImpl::ReadBox(const std::string& name, const std::vector<int64_t>& offsets,
                                     const std::vector<int64_t>& shape, void* dst,
                                     size_t dst_size) {
  CKPT_ASSIGN_OR_RETURN(const EntryView* v, Find(name));
  std::vector<PartRead> parts;
  const Box region{offsets, shape};
  CKPT_RETURN_IF_ERROR(AddBoxRead(checkpoint_.manifest, *v, region, 0, &parts));
  const uint64_t bytes = *ElementCount(shape) * DTypeSize(v->dtype);
  if (dst_size != bytes || (dst == nullptr && bytes != 0))
    return Status::InvalidArgument("buffer of " + std::to_string(dst_size) + " bytes for box " +
                                   BoxToString(region) + " of '" + name + "' of " +
                                   std::to_string(bytes) + " bytes");
  return Read(parts, {static_cast<uint8_t*>(dst)}, nullptr, nullptr);
}

Status CheckpointReaderImpl::StreamEntries(const std::vector<std::string>& names,
                                           const PieceSink& sink, const LoadOptions& options) {
  std::vector<PartRead> parts;
  for (size_t i = 0; i < names.size(); ++i) {
    CKPT_ASSIGN_OR_RETURN(const EntryView* v, Find(names[i]));
    CKPT_RETURN_IF_ERROR(AddViewRead(checkpoint_.manifest, *v, i, &parts));
  }
  return Read(parts, {}, sink, options.progress);
}

}  // namespace ckpt::internal
