#include "state.h"

#include <cstring>
#include <map>

#include "bf16.h"

namespace demo {
namespace {

constexpr const char* kRngBlob = "rng.dropout";
constexpr const char* kPositionBlob = "data.position";
constexpr const char* kStepTensor = "optim.step";

bool HasBf16Copy(const Param& p) {
  return p.trainable && p.name.rfind("head.", 0) == 0 && p.shape.size() == 2;
}

ckpt::TensorView F32View(std::string name, const std::vector<int64_t>& shape,
                         const std::vector<float>& data) {
  return {std::move(name), ckpt::DType::kF32, shape, data.data(), data.size() * sizeof(float)};
}

std::vector<uint8_t> EncodeU64(uint64_t value) {
  std::vector<uint8_t> bytes(8);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  return bytes;
}

uint64_t DecodeU64(const std::vector<uint8_t>& bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{bytes[i]} << (8 * i);
  return value;
}

// Copies tensor `name` of `tensors` into `dst` after checking its type and shape.
ckpt::Status CopyTensor(const std::map<std::string, const ckpt::Tensor*>& tensors,
                        const std::string& name, ckpt::DType dtype,
                        const std::vector<int64_t>& shape, void* dst, size_t size) {
  const auto it = tensors.find(name);
  if (it == tensors.end()) return ckpt::Status::NotFound("checkpoint has no tensor " + name);
  const ckpt::Tensor& t = *it->second;
  if (t.dtype != dtype || t.shape != shape || t.data.size() != size) {
    return ckpt::Status::InvalidArgument(
        "tensor " + name + " is " + std::string(ckpt::DTypeName(t.dtype)) + " of " +
        std::to_string(t.data.size()) + " bytes, not what the trainer holds");
  }
  std::memcpy(dst, t.data.data(), size);
  return ckpt::Status::OK();
}

bool SameFloats(const std::vector<float>& a, const std::vector<float>& b, uint64_t* bytes) {
  *bytes += a.size() * sizeof(float);
  // Frozen parameters have empty moments, whose data() may be null.
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

ckpt::SaveRequest MakeSaveRequest(const Trainer& trainer, const std::string& run,
                                  SaveBuffers* buffers) {
  ckpt::SaveRequest request;
  request.run = run;
  request.step = static_cast<uint64_t>(trainer.step());
  const std::vector<const Param*> params = trainer.model().params();

  buffers->bf16.clear();
  for (const Param* p : params) {
    request.tensors.push_back(F32View(p->name, p->shape, p->value));
  }
  for (const Param* p : params) {
    if (!p->trainable) continue;
    request.tensors.push_back(F32View("optim." + p->name + ".exp_avg", p->shape, p->exp_avg));
    request.tensors.push_back(F32View("optim." + p->name + ".exp_avg_sq", p->shape, p->exp_avg_sq));
  }
  buffers->step.assign(1, trainer.step());
  request.tensors.push_back(
      {kStepTensor, ckpt::DType::kI64, {}, buffers->step.data(), sizeof(int64_t)});
  for (const Param* p : params) {
    if (!HasBf16Copy(*p)) continue;
    std::vector<uint16_t>& copy = buffers->bf16.emplace_back(p->value.size());
    for (size_t i = 0; i < copy.size(); ++i) copy[i] = FloatToBf16(p->value[i]);
    request.tensors.push_back({p->name + ".bf16", ckpt::DType::kBF16, p->shape, copy.data(),
                               copy.size() * sizeof(uint16_t)});
  }

  buffers->rng.resize(Rng::kStateBytes);
  trainer.rng().SaveState(buffers->rng.data());
  buffers->position = EncodeU64(trainer.data().position());
  request.blobs.push_back({kRngBlob, buffers->rng.data(), buffers->rng.size()});
  request.blobs.push_back({kPositionBlob, buffers->position.data(), buffers->position.size()});
  return request;
}

ckpt::Status RestoreTrainer(const ckpt::LoadedCheckpoint& checkpoint, Trainer* trainer) {
  std::map<std::string, const ckpt::Tensor*> tensors;
  for (const ckpt::Tensor& t : checkpoint.tensors) tensors[t.name] = &t;
  std::map<std::string, const ckpt::Blob*> blobs;
  for (const ckpt::Blob& b : checkpoint.blobs) blobs[b.name] = &b;

  for (Param* p : trainer->model().params()) {
    const size_t bytes = p->value.size() * sizeof(float);
    CKPT_RETURN_IF_ERROR(
        CopyTensor(tensors, p->name, ckpt::DType::kF32, p->shape, p->value.data(), bytes));
    if (!p->trainable) continue;
    CKPT_RETURN_IF_ERROR(CopyTensor(tensors, "optim." + p->name + ".exp_avg", ckpt::DType::kF32,
                                    p->shape, p->exp_avg.data(), bytes));
    CKPT_RETURN_IF_ERROR(CopyTensor(tensors, "optim." + p->name + ".exp_avg_sq", ckpt::DType::kF32,
                                    p->shape, p->exp_avg_sq.data(), bytes));
    if (!HasBf16Copy(*p)) continue;
    // The BF16 copy is derived, not state; checking it against the restored
    // weights exercises the BF16 round trip through the store.
    std::vector<uint16_t> copy(p->value.size());
    CKPT_RETURN_IF_ERROR(CopyTensor(tensors, p->name + ".bf16", ckpt::DType::kBF16, p->shape,
                                    copy.data(), copy.size() * sizeof(uint16_t)));
    for (size_t i = 0; i < copy.size(); ++i) {
      if (copy[i] != FloatToBf16(p->value[i])) {
        return ckpt::Status::InvalidArgument("tensor " + p->name + ".bf16 disagrees with " +
                                             p->name + " at element " + std::to_string(i));
      }
    }
  }
  int64_t step = 0;
  CKPT_RETURN_IF_ERROR(CopyTensor(tensors, kStepTensor, ckpt::DType::kI64, {}, &step, sizeof step));
  trainer->set_step(step);

  const auto rng = blobs.find(kRngBlob);
  const auto position = blobs.find(kPositionBlob);
  if (rng == blobs.end() || position == blobs.end()) {
    return ckpt::Status::NotFound(std::string("checkpoint lacks blob ") +
                                  (rng == blobs.end() ? kRngBlob : kPositionBlob));
  }
  if (rng->second->data.size() != Rng::kStateBytes || position->second->data.size() != 8) {
    return ckpt::Status::InvalidArgument("blob rng.dropout or data.position has the wrong size");
  }
  trainer->rng().RestoreState(rng->second->data.data());
  trainer->data().set_position(DecodeU64(position->second->data));
  return ckpt::Status::OK();
}

std::string FirstDifference(const Trainer& a, const Trainer& b, uint64_t* bytes_compared) {
  const std::vector<const Param*> pa = a.model().params(), pb = b.model().params();
  for (size_t i = 0; i < pa.size(); ++i) {
    if (!SameFloats(pa[i]->value, pb[i]->value, bytes_compared)) return pa[i]->name;
    if (!SameFloats(pa[i]->exp_avg, pb[i]->exp_avg, bytes_compared)) {
      return "optim." + pa[i]->name + ".exp_avg";
    }
    if (!SameFloats(pa[i]->exp_avg_sq, pb[i]->exp_avg_sq, bytes_compared)) {
      return "optim." + pa[i]->name + ".exp_avg_sq";
    }
  }
  *bytes_compared += sizeof(int64_t) + Rng::kStateBytes + sizeof(uint64_t);
  if (a.step() != b.step()) return kStepTensor;
  if (!(a.rng() == b.rng())) return kRngBlob;
  if (a.data().position() != b.data().position()) return kPositionBlob;
  return "";
}

}  // namespace demo
