#include "autograd/engine.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_pose.h"
#include "kernels/elastic.h"
#include "tests/util.h"

using namespace wb;
namespace k = wb::kernels;

TEST_CASE("gradcheck: elastic slice, k < K and k == K") {
  const std::vector<std::pair<Shape, k::ElasticSliceParams>> cases = {
      {{5, 4, 5, 5}, {3, 2, 3}}, {{5, 4, 5, 5}, {5, 4, 5}}, {{4, 3, 7, 7}, {2, 3, 1}}, {{3, 2, 3, 3}, {3, 1, 3}}};
  uint64_t seed = 1;
  for (const auto& [shape, p] : cases) {
    const std::string what = shape_str(shape) + " -> [" + std::to_string(p.out_channels) + ", " +
                             std::to_string(p.in_channels) + ", " + std::to_string(p.kernel) + "]";
    CAPTURE(what);
    WB_GRADCHECK([p](const std::vector<Tensor>& v) { return ops::elastic_slice(v[0], p); },
                 {test::randn64(shape, seed++)});
  }
}

TEST_CASE("elastic slice: the centred window of the leading channels") {
  const Tensor w = test::randn64({6, 5, 7, 7}, 3, false);
  const k::ElasticSliceParams p{4, 3, 3};
  const Tensor window = w.narrow(0, 0, 4).narrow(1, 0, 3).narrow(2, 2, 3).narrow(3, 2, 3);
  WB_CHECK_CLOSE(k::elastic_slice_forward(w, p), window, 0, 0);
  // Two sub-networks sharing the weight: their gradients add up in the full weight.
  Tensor shared = test::randn64({4, 4, 5, 5}, 4);
  Tensor loss =
      ops::add(ops::sum(ops::elastic_slice(shared, {4, 4, 5})), ops::sum(ops::elastic_slice(shared, {2, 2, 3})));
  autograd::backward(loss);
  const std::vector<double> g = shared.grad().to_double_vector();
  CHECK(g[0] == 1.0);                        // [0, 0, 0, 0]: only the full kernel
  CHECK(g[(0 * 4 + 0) * 25 + 1 * 5 + 1] == 2.0);  // [0, 0, 1, 1]: both
  CHECK(g[(3 * 4 + 3) * 25 + 2 * 5 + 2] == 1.0);  // [3, 3, 2, 2]: outside the small one's channels
}

TEST_CASE("PyTorch parity: elastic slice against torch indexing") {
  SafetensorsFile f;
  if (!test::load_reference("elastic", f)) return;
  const int64_t count = static_cast<int64_t>(test::ref(f, "count").item());
  for (const char* dtype : {"f64", "f32"}) {
    for (int64_t i = 0; i < count; ++i) {
      const std::string key = std::string(dtype) + "." + std::to_string(i) + ".";
      CAPTURE(key);
      const std::vector<double> q = test::ref(f, key + "params").to_double_vector();
      const k::ElasticSliceParams p{static_cast<int64_t>(q[0]), static_cast<int64_t>(q[1]), static_cast<int64_t>(q[2])};
      Tensor w = test::ref(f, key + "w").clone().set_requires_grad(true);
      Tensor sub = ops::elastic_slice(w, p);
      WB_CHECK_CLOSE(sub, test::ref(f, key + "sub"), 0, 0);
      autograd::backward(sub, test::ref(f, key + "dsub"));
      WB_CHECK_CLOSE(w.grad(), test::ref(f, key + "dw"), 0, 0);
    }
  }
}

TEST_CASE("elastic slice: bad input names the op and the shapes") {
  const Tensor w = Tensor::zeros({8, 4, 5, 5});
  CHECK_THROWS_WITH_AS(k::elastic_slice_forward(w, {9, 4, 3}),
                       doctest::Contains("elastic_slice: sub-kernel [9, 4, 3, 3] does not fit in weight [8, 4, 5, 5]"),
                       Error);
  CHECK_THROWS_WITH_AS(k::elastic_slice_forward(w, {8, 4, 7}), doctest::Contains("does not fit"), Error);
  CHECK_THROWS_WITH_AS(k::elastic_slice_forward(w, {8, 4, 4}),
                       doctest::Contains("elastic_slice: kernel 4 cannot be centred in weight [8, 4, 5, 5]"), Error);
  CHECK_THROWS_WITH_AS(k::elastic_slice_forward(Tensor::zeros({8, 4, 5}), {8, 4, 3}),
                       doctest::Contains("elastic_slice: weight must be [O, I, K, K], got [8, 4, 5]"), Error);
  CHECK_THROWS_WITH_AS(k::elastic_slice_backward(Tensor::zeros({8, 4, 5, 5}), {8, 4, 5, 5}, {8, 4, 3}),
                       doctest::Contains("elastic_slice_backward: gradient [8, 4, 5, 5] f32 cpu does not match the "
                                         "sub-kernel [8, 4, 3, 3]"),
                       Error);
}
