// Batches of a SampleSource's samples (datasets/sample_source.h: top-down crops, or a family's own),
// made by worker threads ahead of the consumer. A batch depends only on
// (seed, epoch, batch number): the epoch's order comes from (seed, epoch) and every sample's random
// choices from a generator seeded with (seed, epoch, dataset index), so any worker count, including
// none, yields byte-identical batches. Batches are CPU tensors, page-locked where a GPU is present.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "datasets/sample_source.h"

namespace wb::data {

// More loader threads than this is a typo, not a machine: refused before any thread starts.
constexpr int kMaxWorkers = 256;

struct LoaderOptions {
  int64_t batch_size = 32;
  int workers = 4;       // 0: samples are made in the thread that calls next(); at most kMaxWorkers
  int prefetch = 2;      // batches being made or waiting, ahead of the consumer (at least 1)
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = true;  // drop a final partial batch (training); false keeps it (evaluation)
  int64_t first_batch = 0;  // start the epoch at this batch (a run resumed mid-epoch); 0..num_batches
  // Data-parallel runs: rank `shard` of `shards` makes only its share of every batch, the rows
  // [shard * B / shards, (shard + 1) * B / shards) of the batch one process would make (batch_size is
  // the global B, a multiple of shards; drop_last). The shares of all ranks together are exactly the
  // one-process batches, whatever the number of ranks.
  int shard = 0, shards = 1;
};

// The seed of one sample's generator; mixes the three so that nearby values give unrelated streams.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);
// Dataset indices in the order an epoch visits them (a seeded permutation, or 0..n-1 unshuffled).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

// One pass over the dataset. The destructor stops the workers (each finishes its current sample)
// and joins them, so a loader may be dropped mid-epoch.
class BatchLoader {
 public:
  BatchLoader(const SampleSource& source, LoaderOptions options, int64_t epoch);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int64_t num_batches() const { return num_batches_; }
  // The next batch in order, or nothing after the last. A sample that failed (an unreadable image,
  // say) stops the workers and its error is rethrown here.
  std::optional<Batch> next();

 private:
  struct Slot {
    Batch batch;
    int64_t batch_index = -1;  // which batch the slot holds; -1 when free
    int64_t pending = 0;       // samples not finished yet
  };

  int64_t batch_rows(int64_t b) const;
  Batch allocate(int64_t b) const;
  void make_row(Batch& batch, int64_t row) const;
  void work();
  void stop_workers();

  const SampleSource& source_;
  LoaderOptions opt_;
  int64_t epoch_;
  std::vector<int64_t> order_;
  int64_t num_batches_ = 0, num_samples_ = 0;  // num_samples_: this shard's, over the epoch
  int64_t rows_ = 0;                           // this shard's rows of a full batch
  int64_t first_row_ = 0;                      // its first row within the global batch

  std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<Slot> slots_;  // ring of prefetch slots, batch b in slots_[b % size]
  int64_t next_position_ = 0;  // next sample (position in the epoch order) to hand to a worker
  int64_t consumed_ = 0;       // batches returned by next()
  bool stop_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

}  // namespace wb::data
