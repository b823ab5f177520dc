// Heatmap losses, MMPose 1.x conventions (documented in the .cpp against MMPose 0.x):
//  MSE:  L = mean over (n, k, h, w) of w_nk * (pred - target)^2           (KeypointMSELoss)
//  OHKM: l_nk = mean over (h, w) of (w_nk * (pred - target))^2;
//        L = mean over n of (mean of the top-k l_nk over k)                (KeypointOHKMMSELoss)
// pred, target [N, K, H, W]; weight [N, K] (may be undefined: all ones). The loss is a 0-d tensor.
#pragma once
#include "tensor/tensor.h"

namespace wb::kernels {

Tensor heatmap_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight);
Tensor heatmap_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight);
Tensor ohkm_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight, int64_t topk);
Tensor ohkm_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight,
                         int64_t topk);

// Backends: weight is always defined ([N, K]); dloss is a 0-d tensor on the same device.
namespace cpu {
void heatmap_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight, Tensor& loss);
void heatmap_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight,
                          Tensor& dpred);
void ohkm_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight, int64_t topk, Tensor& loss);
void ohkm_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight,
                       int64_t topk, Tensor& dpred);
}  // namespace cpu
namespace cuda {
void heatmap_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight, Tensor& loss);
void heatmap_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight,
                          Tensor& dpred);
void ohkm_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight, int64_t topk, Tensor& loss);
void ohkm_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight,
                       int64_t topk, Tensor& dpred);
}  // namespace cuda

}  // namespace wb::kernels
