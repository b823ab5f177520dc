#include "autograd/engine.h"
#include "autograd/ops_pose.h"
#include "kernels/elementwise.h"
#include "kernels/loss.h"
#include "tensor/generator.h"
#include "tests/util.h"

using namespace wb;
namespace k = wb::kernels;

namespace {

// Visibility-style weights in (0, 1) with every third keypoint switched off.
Tensor weights(int64_t n, int64_t nk, uint64_t seed) {
  Generator g(seed);
  Tensor w = Tensor::rand({n, nk}, g, DType::F64, Device::cpu(), 0.2, 1.0);
  double* p = w.data<double>();
  for (int64_t i = 0; i < w.numel(); i += 3) p[i] = 0.0;
  return w;
}

}  // namespace

TEST_CASE("gradcheck: heatmap MSE with zero weights, into pred and target") {
  const Tensor w = weights(2, 5, 3);
  WB_GRADCHECK([w](const std::vector<Tensor>& v) { return ops::heatmap_mse_loss(v[0], v[1], w); },
               {test::randn64({2, 5, 4, 3}, 1), test::randn64({2, 5, 4, 3}, 2)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::heatmap_mse_loss(v[0], v[1]); },
               {test::randn64({1, 3, 5, 2}, 4), test::randn64({1, 3, 5, 2}, 5, false)});
}

TEST_CASE("gradcheck: OHKM MSE with k < K and k == K") {
  // Random heatmaps keep the per-keypoint losses well apart, so the finite differences never
  // change which keypoints are the hardest.
  const Tensor w = weights(3, 7, 6);
  for (int64_t topk : {1, 3, 7}) {
    CAPTURE(topk);
    WB_GRADCHECK([w, topk](const std::vector<Tensor>& v) { return ops::ohkm_mse_loss(v[0], v[1], w, topk); },
                 {test::randn64({3, 7, 3, 4}, 7), test::randn64({3, 7, 3, 4}, 8)});
  }
}

TEST_CASE("losses: values worked by hand") {
  // pred - target = 1 everywhere: MSE is the mean weight, OHKM the mean of the top-k squared weights.
  const Tensor pred = Tensor::ones({2, 3, 2, 2}, DType::F64), target = Tensor::zeros({2, 3, 2, 2}, DType::F64);
  const Tensor w = Tensor::from_vector(std::vector<double>{1.0, 0.5, 0.0, 0.25, 1.0, 0.5}, {2, 3}, DType::F64);
  CHECK(k::heatmap_mse_forward(pred, target, w).item() == doctest::Approx(3.25 / 6).epsilon(1e-15));
  CHECK(k::heatmap_mse_forward(pred, target, Tensor()).item() == doctest::Approx(1.0).epsilon(1e-15));
  // top 2 of (1, 0.25, 0) and (0.0625, 1, 0.25): (1.25 / 2 + 1.25 / 2) / 2.
  CHECK(k::ohkm_mse_forward(pred, target, w, 2).item() == doctest::Approx(0.625).epsilon(1e-15));
}

TEST_CASE("OHKM: ties go to the lower keypoint index") {
  // Keypoints 1 and 3 have the same (largest) error; with k = 1 only keypoint 1 gets a gradient.
  Tensor pred = Tensor::zeros({1, 4, 2, 2}, DType::F64);
  double* p = pred.data<double>();
  for (int64_t j = 0; j < 4; ++j) {
    p[1 * 4 + j] = 2.0;
    p[2 * 4 + j] = 1.0;
    p[3 * 4 + j] = 2.0;
  }
  const Tensor target = Tensor::zeros({1, 4, 2, 2}, DType::F64);
  const Tensor g = k::ohkm_mse_backward(Tensor::full({}, 1.0, DType::F64), pred, target, Tensor(), 1);
  const std::vector<double> d = g.to_double_vector();
  for (int64_t kp = 0; kp < 4; ++kp) {
    CAPTURE(kp);
    CHECK(d[static_cast<size_t>(kp * 4)] == (kp == 1 ? doctest::Approx(1.0) : doctest::Approx(0.0)));
  }
}

TEST_CASE("PyTorch parity: MMPose KeypointMSELoss and KeypointOHKMMSELoss") {
  SafetensorsFile f;
  if (!test::load_reference("loss", f)) return;
  const int64_t count = static_cast<int64_t>(test::ref(f, "count").item());
  for (const char* dtype : {"f64", "f32"}) {
    const bool f64 = std::string(dtype) == "f64";
    const double tol = f64 ? 1e-12 : 2e-6;
    for (int64_t i = 0; i < count; ++i) {
      const std::string key = std::string(dtype) + "." + std::to_string(i) + ".";
      CAPTURE(key);
      const int64_t topk = static_cast<int64_t>(test::ref(f, key + "params").item());
      const Tensor w = test::ref(f, key + "weight");
      Tensor pred = test::ref(f, key + "pred").clone().set_requires_grad(true);
      Tensor target = test::ref(f, key + "target").clone().set_requires_grad(true);
      Tensor mse = ops::heatmap_mse_loss(pred, target, w);
      WB_CHECK_CLOSE(mse, test::ref(f, key + "mse"), tol, tol);
      autograd::backward(mse);
      WB_CHECK_CLOSE(pred.grad(), test::ref(f, key + "dmse_pred"), tol, tol);
      WB_CHECK_CLOSE(target.grad(), kernels::scale(test::ref(f, key + "dmse_pred"), -1.0), tol, tol);
      WB_CHECK_CLOSE(k::heatmap_mse_forward(pred, target, Tensor()), test::ref(f, key + "mse_noweight"), tol, tol);

      pred.set_grad(Tensor());
      target.set_grad(Tensor());
      Tensor ohkm = ops::ohkm_mse_loss(pred, target, w, topk);
      WB_CHECK_CLOSE(ohkm, test::ref(f, key + "ohkm"), tol, tol);
      autograd::backward(ohkm);
      WB_CHECK_CLOSE(pred.grad(), test::ref(f, key + "dohkm_pred"), tol, tol);
      WB_CHECK_CLOSE(target.grad(), test::ref(f, key + "dohkm_target"), tol, tol);
    }
  }
}

TEST_CASE("losses: bad input names the op and the shapes") {
  const Tensor a = Tensor::zeros({2, 3, 4, 4});
  CHECK_THROWS_WITH_AS(k::heatmap_mse_forward(a, Tensor::zeros({2, 3, 4, 5}), Tensor()),
                       doctest::Contains("heatmap_mse: pred [2, 3, 4, 4] f32 cpu and target [2, 3, 4, 5] f32 cpu "
                                         "must have the same shape"),
                       Error);
  CHECK_THROWS_WITH_AS(k::heatmap_mse_forward(a, a, Tensor::ones({2, 4})),
                       doctest::Contains("heatmap_mse: weight [2, 4] f32 cpu must be [N, K] for heatmaps [2, 3, 4, 4]"),
                       Error);
  CHECK_THROWS_WITH_AS(k::heatmap_mse_forward(Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 3, 4}), Tensor()),
                       doctest::Contains("heatmap_mse: pred must be 4-d, got [2, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(k::ohkm_mse_forward(a, a, Tensor(), 4),
                       doctest::Contains("ohkm_mse: topk 4 must be in [1, K] for heatmaps [2, 3, 4, 4]"), Error);
  CHECK_THROWS_WITH_AS(k::ohkm_mse_forward(a, a, Tensor(), 0), doctest::Contains("ohkm_mse: topk 0"), Error);
  CHECK_THROWS_WITH_AS(k::heatmap_mse_backward(Tensor::zeros({2}), a, a, Tensor()),
                       doctest::Contains("heatmap_mse_backward: the loss gradient must hold one value, got [2]"),
                       Error);
  CHECK_THROWS_WITH_AS(k::ohkm_mse_forward(a, Tensor::zeros({2, 3, 4, 4}, DType::F64), Tensor(), 1),
                       doctest::Contains("ohkm_mse: mixed dtypes"), Error);
}
