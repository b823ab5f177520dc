#include "datasets/loader.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "tensor/error.h"

namespace wb::data {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (shuffle) {
    Generator gen(sample_seed(seed, epoch, -1));  // index -1: a stream no sample uses
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[gen.randint(0, i + 1)]);
  }
  return order;
}

BatchLoader::BatchLoader(const SampleSource& source, LoaderOptions options, int64_t epoch)
    : source_(source), opt_(options), epoch_(epoch) {
  check(opt_.batch_size > 0, "BatchLoader: batch_size ", opt_.batch_size, " is not positive");
  check(opt_.workers >= 0 && opt_.workers <= kMaxWorkers, "BatchLoader: workers ", opt_.workers, " is outside [0, ",
        kMaxWorkers, "]");
  check(opt_.prefetch >= 1, "BatchLoader: prefetch ", opt_.prefetch, " is less than 1");
  check(opt_.shards >= 1 && opt_.shard >= 0 && opt_.shard < opt_.shards, "BatchLoader: shard ", opt_.shard, " of ",
        opt_.shards, " does not exist");
  check(opt_.shards == 1 || (opt_.drop_last && opt_.batch_size % opt_.shards == 0), "BatchLoader: a batch of ",
        opt_.batch_size, " does not split evenly over ", opt_.shards, " ranks (the global batch size must be a ",
        "multiple of the number of ranks)");
  order_ = epoch_order(source.size(), opt_.seed, epoch, opt_.shuffle);
  const int64_t n = source.size();
  num_batches_ = opt_.drop_last ? n / opt_.batch_size : (n + opt_.batch_size - 1) / opt_.batch_size;
  rows_ = opt_.batch_size / opt_.shards;
  first_row_ = opt_.shard * rows_;
  num_samples_ = opt_.shards == 1 ? std::min(n, num_batches_ * opt_.batch_size) : num_batches_ * rows_;
  check(opt_.first_batch >= 0 && opt_.first_batch <= num_batches_, "BatchLoader: first_batch ", opt_.first_batch,
        " is outside [0, ", num_batches_, "]");
  consumed_ = opt_.first_batch;
  next_position_ = opt_.first_batch * rows_;
  slots_.resize(static_cast<size_t>(opt_.prefetch));
  try {
    for (int i = 0; i < opt_.workers; ++i) threads_.emplace_back([this] { work(); });
  } catch (const std::system_error& e) {
    stop_workers();  // the destructor does not run for a constructor that throws
    fail("BatchLoader: cannot start ", opt_.workers, " loader threads (", e.what(), "): lower data.workers");
  }
}

void BatchLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

BatchLoader::~BatchLoader() { stop_workers(); }

int64_t BatchLoader::batch_rows(int64_t b) const { return std::min(rows_, num_samples_ - b * rows_); }

Batch BatchLoader::allocate(int64_t b) const {
  const int64_t n = batch_rows(b);
  Batch batch = source_.allocate(n);
  batch.index = b;
  batch.dataset_indices.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) batch.dataset_indices[r] = order_[b * opt_.batch_size + first_row_ + r];
  return batch;
}

void BatchLoader::make_row(Batch& batch, int64_t row) const {
  const int64_t index = batch.dataset_indices[row];
  Generator gen(sample_seed(opt_.seed, epoch_, index));
  source_.make_row(index, gen, batch, row);
}

void BatchLoader::work() {
  // Any exception (a batch too large to allocate, a sample that fails) ends the workers and is
  // rethrown by next(): an exception escaping a thread would abort the program.
  try {
    for (;;) {
      Slot* slot = nullptr;
      int64_t row = 0;
      {
        std::unique_lock<std::mutex> lk(mu_);
        // A worker may start batch b only once batch b - prefetch has been handed out: its slot is free.
        work_cv_.wait(lk, [&] {
          return stop_ || next_position_ >= num_samples_ ||
                 next_position_ / rows_ < consumed_ + static_cast<int64_t>(slots_.size());
        });
        if (stop_ || next_position_ >= num_samples_) return;
        const int64_t pos = next_position_++;
        const int64_t b = pos / rows_;
        row = pos % rows_;
        slot = &slots_[static_cast<size_t>(b) % slots_.size()];
        if (row == 0) {
          slot->batch = allocate(b);
          slot->batch_index = b;
          slot->pending = batch_rows(b);
        }
      }
      make_row(slot->batch, row);
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (--slot->pending > 0) continue;
      }
      ready_cv_.notify_all();
    }
  } catch (...) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!error_) error_ = std::current_exception();
      stop_ = true;
    }
    ready_cv_.notify_all();
    work_cv_.notify_all();
  }
}

std::optional<Batch> BatchLoader::next() {
  if (opt_.workers == 0) {
    if (consumed_ == num_batches_) return std::nullopt;
    Batch batch = allocate(consumed_++);
    for (int64_t r = 0; r < static_cast<int64_t>(batch.dataset_indices.size()); ++r) make_row(batch, r);
    return batch;
  }
  std::unique_lock<std::mutex> lk(mu_);
  if (error_) std::rethrow_exception(error_);
  if (consumed_ == num_batches_) return std::nullopt;
  Slot& slot = slots_[static_cast<size_t>(consumed_) % slots_.size()];
  ready_cv_.wait(lk, [&] { return error_ || (slot.batch_index == consumed_ && slot.pending == 0); });
  if (error_) std::rethrow_exception(error_);
  Batch batch = std::move(slot.batch);
  slot.batch_index = -1;
  ++consumed_;
  lk.unlock();
  work_cv_.notify_all();
  return batch;
}

}  // namespace wb::data
