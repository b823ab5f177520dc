#include "nn/data_parallel.h"

#include <algorithm>
#include <chrono>

#include "autograd/engine.h"
#include "kernels/elementwise.h"
#include "nn/layers.h"
#include "tensor/error.h"

namespace wb::nn {

GradientReducer::GradientReducer(std::vector<Tensor> params, dist::Communicator& comm, int64_t bucket_bytes)
    : params_(std::move(params)), comm_(comm) {
  check(bucket_bytes > 0, "GradientReducer: bucket size ", bucket_bytes, " is not positive");
  // Reverse registration order: backward finishes the last layers first, so the first buckets fill
  // early. A bucket holds one device and dtype.
  int64_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    const bool fits = !buckets_.empty() && bytes + p.numel() * static_cast<int64_t>(dtype_size(p.dtype())) <= bucket_bytes;
    const Tensor& first = buckets_.empty() ? p : params_[buckets_.back().params.front()];
    if (!fits || first.device() != p.device() || first.dtype() != p.dtype()) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    b.params.push_back(k);
    b.offsets.push_back(b.numel);
    b.numel += p.numel();
    bytes += p.numel() * static_cast<int64_t>(dtype_size(p.dtype()));
    bucket_of_.emplace_back(p.impl_ptr().get(), buckets_.size() - 1);
  }
  std::sort(bucket_of_.begin(), bucket_of_.end());
}

GradientReducer::~GradientReducer() {
  if (armed_) autograd::set_grad_ready_hook({});
}

void GradientReducer::arm() {
  if (comm_.size() == 1) return;
  for (Bucket& b : buckets_) {
    b.ready = 0;
    b.sums.reset();
    b.counts.reset();
  }
  next_launch_ = 0;
  armed_ = true;
  autograd::set_grad_ready_hook([this](const Tensor& leaf) { on_ready(leaf); });
}

void GradientReducer::on_ready(const Tensor& leaf) {
  const void* id = leaf.impl_ptr().get();
  const auto it = std::lower_bound(bucket_of_.begin(), bucket_of_.end(), std::make_pair(id, size_t{0}));
  if (it == bucket_of_.end() || it->first != id) return;  // not one of ours (an input that required grad)
  ++buckets_[it->second].ready;
  // In bucket order only: every rank starts the same collectives in the same order.
  while (next_launch_ < buckets_.size() &&
         buckets_[next_launch_].ready == static_cast<int64_t>(buckets_[next_launch_].params.size())) {
    launch(buckets_[next_launch_++]);
  }
}

void GradientReducer::launch(Bucket& b) {
  if (!b.flat.defined()) {  // the buffers live as long as the reducer: no allocation per step
    const Tensor& first = params_[b.params.front()];
    b.flat = Tensor::empty({b.numel}, first.dtype(), first.device());
    b.had_grad = Tensor::empty({static_cast<int64_t>(b.params.size())}, DType::F64);
  }
  for (size_t i = 0; i < b.params.size(); ++i) {
    const Tensor& p = params_[b.params[i]];
    const Tensor g = p.grad();
    Tensor slot = b.flat.narrow(0, b.offsets[i], p.numel());
    if (g.defined()) {
      slot.copy_(g.reshape({g.numel()}));
    } else {
      slot.zero_();  // no gradient on this rank: zeros in the sum
    }
    b.had_grad.data<double>()[i] = g.defined() ? 1.0 : 0.0;
  }
  b.sums = comm_.all_reduce_sum_async(b.flat);
  b.counts = comm_.all_reduce_sum_async(b.had_grad);
}

double GradientReducer::take_wait_seconds() {
  const double s = wait_seconds_;
  wait_seconds_ = 0;
  return s;
}

void GradientReducer::finish() {
  if (comm_.size() == 1) return;
  const auto start = std::chrono::steady_clock::now();
  autograd::set_grad_ready_hook({});
  armed_ = false;
  while (next_launch_ < buckets_.size()) launch(buckets_[next_launch_++]);
  const double inv = 1.0 / static_cast<double>(comm_.size());
  for (Bucket& b : buckets_) {
    b.sums->wait();
    b.counts->wait();
    for (size_t i = 0; i < b.params.size(); ++i) {
      Tensor& p = params_[b.params[i]];
      if (b.had_grad.data<double>()[i] == 0.0) continue;  // no rank had one
      const Tensor mean = kernels::scale(b.flat.narrow(0, b.offsets[i], p.numel()), inv).reshape(p.shape());
      p.set_grad(mean);  // a new tensor: the bucket's buffer is reused next step
    }
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void use_sync_batch_norm(Module& model, dist::Communicator* comm) {
  for (const auto& [name, m] : model.named_modules()) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) bn->set_sync(comm);
  }
}

void broadcast_state(Module& model, dist::Communicator& comm, int root) {
  if (comm.size() == 1) return;
  for (auto& [name, t] : model.state_dict()) {
    check(t.is_contiguous(), "broadcast_state: ", name, " ", t.str(), " is not contiguous");
    Tensor live = t;
    comm.broadcast(live, root);
  }
}

}  // namespace wb::nn
