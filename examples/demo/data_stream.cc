#include "data_stream.h"

#include <algorithm>

#include "rng.h"

namespace demo {

DataStream::DataStream(const DataConfig& config) : config_(config) {
  Rng rng(config.seed);
  // Each item has a genre; its teacher row is that genre's one-hot plus noise
  // that breaks ties, so an example's label is mostly its majority genre.
  teacher_.resize(static_cast<size_t>(config.vocab) * config.classes);
  for (size_t item = 0; item < static_cast<size_t>(config.vocab); ++item) {
    const size_t genre = rng.Next() % static_cast<uint64_t>(config.classes);
    for (size_t c = 0; c < static_cast<size_t>(config.classes); ++c) {
      teacher_[item * config.classes + c] =
          (c == genre ? 1.0f : 0.0f) + config.teacher_noise * rng.Normal();
    }
  }
}

Example DataStream::At(uint64_t index) const {
  // Hashing (seed, index) gives every example its own generator, so any
  // example can be produced without replaying the ones before it.
  uint64_t key = config_.seed ^ (index * 0xd1b54a32d192ed03ull);
  Rng rng(SplitMix64(key));

  const int64_t grown =
      static_cast<int64_t>(static_cast<double>(index) * config_.items_per_example);
  const int64_t frontier =
      std::min<int64_t>(config_.vocab, config_.favourites + config_.initial_catalog + grown);
  const int64_t catalog = frontier - config_.favourites;

  Example example;
  for (int32_t& token : example.tokens) {
    if (rng.Uniform() < config_.favourite_share) {
      // Squaring skews toward the lowest ids: a few favourites dominate.
      const double u = rng.Uniform();
      token = static_cast<int32_t>(u * u * config_.favourites);
    } else {
      // Skewed toward the newest items and bounded by the window, so that
      // old items stop being touched at all.
      const double u = rng.Uniform();
      const int64_t age = static_cast<int64_t>(u * u * static_cast<double>(config_.recent_window));
      token = static_cast<int32_t>(frontier - 1 - age % catalog);
    }
  }

  std::vector<float> score(config_.classes, 0.0f);
  for (int32_t token : example.tokens) {
    const float* row = &teacher_[static_cast<size_t>(token) * config_.classes];
    for (int c = 0; c < config_.classes; ++c) score[c] += row[c];
  }
  example.label =
      static_cast<int32_t>(std::max_element(score.begin(), score.end()) - score.begin());
  return example;
}

void DataStream::NextBatch(int size, std::vector<Example>* batch) {
  batch->clear();
  for (int i = 0; i < size; ++i) batch->push_back(At(position_++));
}

}  // namespace demo
