// Data-parallel training's gradient exchange (PyTorch's DistributedDataParallel reducer, on our
// communicator): every rank runs forward and backward on its share of the global batch, and the
// reducer replaces each parameter's gradient by its mean over the ranks. With losses that are means
// over each rank's equal share, that mean is the gradient of the one-process loss on the whole batch.
//
// Gradients go in buckets of about bucket_bytes, parameters taken in reverse registration order (the
// order backward finishes them: heads first). A bucket is copied into one flat buffer and its
// all-reduce started as soon as all its parameters' gradients are final (the autograd engine's
// grad-ready hook), while backward goes on; buckets start strictly in bucket order on every rank,
// so the collectives match whatever order a rank's backward finishes them in. finish() starts what
// is left, waits, and writes the means back.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/module.h"
#include "tensor/communicator.h"
#include "tensor/tensor.h"

namespace wb::nn {

class GradientReducer {
 public:
  // The parameters (leaves; gradients may be undefined until a backward writes them) of one model,
  // every rank passing the same list.
  GradientReducer(std::vector<Tensor> params, dist::Communicator& comm, int64_t bucket_bytes = int64_t{4} << 20);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before a backward pass: installs the grad-ready hook on this thread.
  void arm();
  // After it: removes the hook, all-reduces what has not started (a parameter without a gradient on
  // this rank counts as zeros; one that no rank gave a gradient keeps none, as one process would),
  // waits, and sets every gradient to the mean over the ranks. A job of one leaves them as they are.
  void finish();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // Seconds finish() has spent since the last call starting and waiting for all-reduces: the
  // communication that backward did not hide.
  double take_wait_seconds();

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    std::vector<int64_t> offsets;
    int64_t numel = 0;
    Tensor flat;                 // the gradients, then their sums (allocated once)
    Tensor had_grad;             // f64 [params.size()]: 1 where this rank had a gradient, then how many ranks did
    std::unique_ptr<dist::Pending> sums, counts;
    int64_t ready = 0;           // parameters whose gradient is final
  };
  void on_ready(const Tensor& leaf);
  void launch(Bucket& b);

  std::vector<Tensor> params_;
  dist::Communicator& comm_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<const void*, size_t>> bucket_of_;  // parameter identity -> bucket, sorted
  size_t next_launch_ = 0;
  bool armed_ = false;
  double wait_seconds_ = 0;
};

// Sets every BatchNorm2d of `model` to use `comm`'s whole batch in training mode (SyncBN), or its
// own batch again with null.
void use_sync_batch_norm(Module& model, dist::Communicator* comm);

// Makes every rank's parameters and buffers equal to `root`'s (the start of a data-parallel run).
void broadcast_state(Module& model, dist::Communicator& comm, int root = 0);

}  // namespace wb::nn
