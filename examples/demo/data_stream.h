// data_stream.h: the synthetic training data, a stream of labelled examples.
//
// The data imitates a recommender's interaction log. Item ids are handed out
// in the order items enter a growing catalog, and each example is a handful
// of items a user touched: mostly recent ones, some from a small set of
// perennial favourites (the lowest ids). The label is one of `classes`: each
// item has a random genre, and a fixed "teacher" table scores each item as
// its genre's one-hot plus noise; the label is the class with the highest
// summed score over the example's items, so mostly the majority genre.
//
// That recency is why a stretch of training updates only a band of the
// embedding table, and why unchanged chunks deduplicate between checkpoints;
// with ids scattered uniformly nearly every chunk would change every time.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace demo {

inline constexpr int kTokensPerExample = 8;

struct DataConfig {
  uint64_t seed = 20240611;
  int vocab = 4096;
  int classes = 16;
  // Ids [0, favourites) are the perennial favourites.
  int favourites = 64;
  // Catalog items present before the first example.
  int initial_catalog = 256;
  // New catalog items per example. The demo's 16,000 examples grow the
  // catalog by 1,280 items; the table's higher rows wait for items to come.
  double items_per_example = 0.08;
  // Recent items are drawn from the newest `recent_window` of the catalog.
  int recent_window = 384;
  // Share of an example's items drawn from the favourites.
  double favourite_share = 0.25;
  // Scale of the teacher's per-class noise around each item's genre.
  float teacher_noise = 0.3f;
};

struct Example {
  std::array<int32_t, kTokensPerExample> tokens;
  int32_t label = 0;
};

class DataStream {
 public:
  explicit DataStream(const DataConfig& config);

  // Returns example `index` of the stream: a pure function of (seed, index),
  // so that the loader's whole state is its position.
  Example At(uint64_t index) const;

  // Fills `batch` with the next `size` examples and advances the position.
  void NextBatch(int size, std::vector<Example>* batch);

  // Index of the next example NextBatch returns.
  uint64_t position() const { return position_; }
  void set_position(uint64_t position) { position_ = position; }

  const DataConfig& config() const { return config_; }

 private:
  DataConfig config_;
  std::vector<float> teacher_;  // vocab x classes
  uint64_t position_ = 0;
};

}  // namespace demo
