// CPU reference for the heatmap losses (MMPose 1.x conventions). Sums run in double for both
// scalar types.
//
// Relation to MMPose 0.x's JointsMSELoss: 0.x multiplies both terms by the weight before the
// squared difference, L0 = (1/K) sum_k mean_{n,h,w} (w_nk * pred - w_nk * target)^2, so the
// weight enters squared; 1.x's KeypointMSELoss (ours) applies it once to the squared difference,
// L1 = mean_{n,k,h,w} w_nk * (pred - target)^2. With binary visibility weights the two agree.
// The original HRNet code from which 0.x's loss descends also halved every term
// (0.5 * criterion(...)); MMPose 0.x dropped that factor, and so do we. OHKM kept the 0.x form in
// 1.x (KeypointOHKMMSELoss: weight on both terms, hence squared), which is what we implement.
#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/common.h"
#include "kernels/loss.h"

namespace wb::kernels::cpu {

namespace {

// l[n*K + k] = mean over (h, w) of (pred - target)^2: the unweighted per-keypoint error.
template <class T>
std::vector<double> keypoint_errors(const Tensor& pred, const Tensor& target) {
  const int64_t planes = pred.size(0) * pred.size(1), hw = pred.size(2) * pred.size(3);
  const T* pp = pred.data<T>();
  const T* pt = target.data<T>();
  std::vector<double> err(static_cast<size_t>(planes));
#pragma omp parallel for if (pred.numel() > 32768)
  for (int64_t i = 0; i < planes; ++i) {
    double acc = 0.0;
    for (int64_t j = 0; j < hw; ++j) {
      const double d = static_cast<double>(pp[i * hw + j]) - static_cast<double>(pt[i * hw + j]);
      acc += d * d;
    }
    err[static_cast<size_t>(i)] = acc / static_cast<double>(hw);
  }
  return err;
}

// OHKM's per-keypoint losses l_nk = w_nk^2 * err_nk and, per sample, which keypoints are among
// the top k (ties to the lower index, so forward and backward always pick the same set).
template <class T>
std::vector<bool> hardest_keypoints(const Tensor& pred, const Tensor& target, const Tensor& weight, int64_t topk,
                                    std::vector<double>& losses) {
  const int64_t n = pred.size(0), nk = pred.size(1);
  losses = keypoint_errors<T>(pred, target);
  const T* pw = weight.data<T>();
  for (size_t i = 0; i < losses.size(); ++i) {
    const double w = static_cast<double>(pw[i]);
    losses[i] *= w * w;
  }
  std::vector<bool> chosen(losses.size(), false);
  std::vector<int64_t> order(static_cast<size_t>(nk));
  for (int64_t s = 0; s < n; ++s) {
    const double* l = losses.data() + s * nk;
    std::iota(order.begin(), order.end(), int64_t{0});
    std::partial_sort(order.begin(), order.begin() + topk, order.end(), [l](int64_t a, int64_t b) {
      return l[a] > l[b] || (l[a] == l[b] && a < b);
    });
    for (int64_t i = 0; i < topk; ++i) chosen[static_cast<size_t>(s * nk + order[static_cast<size_t>(i)])] = true;
  }
  return chosen;
}

}  // namespace

void heatmap_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight, Tensor& loss) {
  dispatch_float(pred.dtype(), "heatmap_mse", [&](auto tag) {
    using T = decltype(tag);
    const std::vector<double> err = keypoint_errors<T>(pred, target);
    const T* pw = weight.data<T>();
    double total = 0.0;
    for (size_t i = 0; i < err.size(); ++i) total += static_cast<double>(pw[i]) * err[i];
    // err is already a mean over (h, w); the mean over (n, k) completes the mean over all four.
    *loss.data<T>() = static_cast<T>(total / static_cast<double>(err.size()));
  });
}

void heatmap_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight,
                          Tensor& dpred) {
  dispatch_float(pred.dtype(), "heatmap_mse_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t planes = pred.size(0) * pred.size(1), hw = pred.size(2) * pred.size(3);
    const double g = dloss.item() * 2.0 / static_cast<double>(pred.numel());
    const T* pp = pred.data<T>();
    const T* pt = target.data<T>();
    const T* pw = weight.data<T>();
    T* pd = dpred.data<T>();
#pragma omp parallel for if (pred.numel() > 32768)
    for (int64_t i = 0; i < planes; ++i) {
      const double c = g * static_cast<double>(pw[i]);
      for (int64_t j = 0; j < hw; ++j) {
        const int64_t e = i * hw + j;
        pd[e] = static_cast<T>(c * (static_cast<double>(pp[e]) - static_cast<double>(pt[e])));
      }
    }
  });
}

void ohkm_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight, int64_t topk, Tensor& loss) {
  dispatch_float(pred.dtype(), "ohkm_mse", [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> losses;
    const std::vector<bool> chosen = hardest_keypoints<T>(pred, target, weight, topk, losses);
    double total = 0.0;
    for (size_t i = 0; i < losses.size(); ++i) {
      if (chosen[i]) total += losses[i];
    }
    *loss.data<T>() = static_cast<T>(total / static_cast<double>(topk) / static_cast<double>(pred.size(0)));
  });
}

void ohkm_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight,
                       int64_t topk, Tensor& dpred) {
  dispatch_float(pred.dtype(), "ohkm_mse_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t planes = pred.size(0) * pred.size(1), hw = pred.size(2) * pred.size(3);
    std::vector<double> losses;
    const std::vector<bool> chosen = hardest_keypoints<T>(pred, target, weight, topk, losses);
    // d/dpred of w^2 * mean_hw (pred - target)^2, times 1/topk and 1/N from the two means.
    const double g = dloss.item() * 2.0 / static_cast<double>(hw * topk * pred.size(0));
    const T* pp = pred.data<T>();
    const T* pt = target.data<T>();
    const T* pw = weight.data<T>();
    T* pd = dpred.data<T>();
#pragma omp parallel for if (pred.numel() > 32768)
    for (int64_t i = 0; i < planes; ++i) {
      const double w = static_cast<double>(pw[i]);
      const double c = chosen[static_cast<size_t>(i)] ? g * w * w : 0.0;
      for (int64_t j = 0; j < hw; ++j) {
        const int64_t e = i * hw + j;
        pd[e] = static_cast<T>(c * (static_cast<double>(pp[e]) - static_cast<double>(pt[e])));
      }
    }
  });
}

}  // namespace wb::kernels::cpu
