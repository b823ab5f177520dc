#include "nn/bn_recalibration.h"

#include <string>
#include <utility>
#include <vector>

#include "autograd/node.h"
#include "nn/layers.h"
#include "tensor/error.h"

namespace wb::nn {

namespace {

// What recalibration changes on one layer, to put back at the end (momentum, count) or on an error
// (everything).
struct SavedBn {
  std::string name;
  BatchNorm2d* bn;
  double momentum;
  Tensor running_mean, running_var, num_batches_tracked;  // clones
  std::vector<double> sum_mean, sum_var;                  // the passes' statistics, summed
  int64_t passes = 0;                                     // passes that ran the layer
};

int64_t count_of(const BatchNorm2d& bn) { return *bn.num_batches_tracked.data<int64_t>(); }

// Adds a [C] tensor's values to `sum`.
void accumulate(const Tensor& t, std::vector<double>& sum) {
  const Tensor v = t.to(Device::cpu()).to(DType::F64).contiguous();
  const double* p = v.data<double>();
  for (size_t c = 0; c < sum.size(); ++c) sum[c] += p[c];
}

Tensor mean_of(const std::vector<double>& sum, int64_t n) {
  std::vector<double> m(sum.size());
  for (size_t c = 0; c < sum.size(); ++c) m[c] = sum[c] / static_cast<double>(n);
  return Tensor::from_vector(m, {static_cast<int64_t>(m.size())}, DType::F64);
}

// Puts the model back as it was found on any exit; on failure the statistics too.
class Restore {
 public:
  Restore(Module& model, std::vector<SavedBn>& saved) : saved_(saved) {
    for (auto& [name, m] : model.named_modules()) modes_.emplace_back(m, m->is_training());
  }
  ~Restore() {
    // named_modules() is depth first from the root, so each module's own flag is set last.
    for (auto& [m, training] : modes_) m->train(training);
    for (SavedBn& s : saved_) {
      s.bn->set_momentum(s.momentum);
      s.bn->num_batches_tracked.copy_(s.num_batches_tracked);
      if (!done_) {
        s.bn->running_mean.copy_(s.running_mean);
        s.bn->running_var.copy_(s.running_var);
      }
    }
  }
  void done() { done_ = true; }

 private:
  std::vector<SavedBn>& saved_;
  std::vector<std::pair<Module*, bool>> modes_;
  bool done_ = false;
};

}  // namespace

void recalibrate_batchnorm(Module& model, int64_t batches, const std::function<Tensor(int64_t)>& images_for) {
  check(batches >= 1, "recalibrate_batchnorm: needs at least one batch, got ", batches);
  std::vector<SavedBn> saved;
  for (auto& [name, m] : model.named_modules()) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) {
      const auto c = static_cast<size_t>(bn->channels());
      saved.push_back({name, bn, bn->params().momentum, bn->running_mean.clone(), bn->running_var.clone(),
                       bn->num_batches_tracked.clone(), std::vector<double>(c, 0.0), std::vector<double>(c, 0.0)});
    }
  }
  Restore restore(model, saved);
  autograd::NoGradGuard no_grad;
  model.train();
  // Momentum 1: after a pass each layer's running statistics are that pass's batch statistics.
  for (SavedBn& s : saved) s.bn->set_momentum(1.0);
  for (int64_t i = 0; i < batches; ++i) {
    // A non-finite leftover would survive momentum 1 as 0 * inf = nan: start every pass clean.
    for (SavedBn& s : saved) {
      s.bn->running_mean.fill_(0.0);
      s.bn->running_var.fill_(1.0);
    }
    std::vector<int64_t> before;
    for (const SavedBn& s : saved) before.push_back(count_of(*s.bn));
    model(images_for(i));
    for (size_t k = 0; k < saved.size(); ++k) {
      SavedBn& s = saved[k];
      // A layer a pass did not reach contributes nothing; one it ran twice would contribute only its
      // second call's statistics (momentum 1), which is not the average this promises.
      const int64_t runs = count_of(*s.bn) - before[k];
      check(runs <= 1, "recalibrate_batchnorm: layer \"", s.name, "\" runs ", runs,
            " times in one forward pass: its statistics cannot be averaged per pass");
      if (runs == 0) continue;
      ++s.passes;
      accumulate(s.bn->running_mean, s.sum_mean);
      accumulate(s.bn->running_var, s.sum_var);
    }
  }
  // A layer no pass reached keeps its statistics.
  for (SavedBn& s : saved) {
    if (s.passes == 0) {
      s.bn->running_mean.copy_(s.running_mean);
      s.bn->running_var.copy_(s.running_var);
      continue;
    }
    s.bn->running_mean.copy_(mean_of(s.sum_mean, s.passes));
    s.bn->running_var.copy_(mean_of(s.sum_var, s.passes));
  }
  restore.done();
}

}  // namespace wb::nn
