#include "tests/cuda/parity.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "tensor/cuda_runtime.h"
#include "tensor/generator.h"
#include "tests/util.h"

namespace wb::test {

bool require_gpu() {
  if (cuda::available()) return true;
  mark_skipped("no CUDA device or driver on this machine: the CUDA parity suite did not run");
  return false;
}

Tensor rnd(const Shape& shape, uint64_t seed, double scale) {
  Generator g(seed);
  return Tensor::randn(shape, g, DType::F32, Device::cpu(), 0.0, scale);
}

Tensor uniform(const Shape& shape, uint64_t seed, double lo, double hi) {
  Generator g(seed);
  return Tensor::rand(shape, g, DType::F32, Device::cpu(), lo, hi);
}

Tensor distinct(const Shape& shape, uint64_t seed) {
  const int64_t n = numel_of(shape);
  std::vector<double> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0);
  std::mt19937_64 eng(seed);
  std::shuffle(v.begin(), v.end(), eng);
  for (double& x : v) x = (x - n / 2.0) / std::max<double>(1.0, n / 8.0);
  return Tensor::from_vector(v, shape, DType::F32);
}

void check_parity(const ParityCase& c) {
  INFO("case: " << c.name);
  const Outputs ref = c.run(c.inputs);
  std::vector<Tensor> dev;
  for (const Tensor& t : c.inputs) dev.push_back(t.defined() ? t.to(Device::cuda()) : Tensor());
  const Outputs got = c.run(dev);
  REQUIRE(ref.size() == got.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    const auto& [name, r] = ref[i];
    const Tensor& g = got[i].second;
    INFO("output: " << name);
    REQUIRE(r.defined() == g.defined());
    if (!r.defined()) continue;
    CHECK(g.is_cuda());
    REQUIRE(r.shape() == g.shape());
    const std::vector<double> a = g.to_double_vector(), e = r.to_double_vector();
    double scale = 0.0, worst = 0.0;
    size_t worst_i = 0;
    bool finite = true;
    for (double v : e) scale = std::max(scale, std::fabs(v));
    for (size_t k = 0; k < a.size(); ++k) {
      if (!std::isfinite(a[k])) finite = false;
      const double d = std::fabs(a[k] - e[k]);
      if (d > worst || std::isnan(d)) {
        worst = d;
        worst_i = k;
      }
    }
    const double limit = c.tol.atol + c.tol.rtol * scale;
    std::ostringstream os;
    os.precision(9);
    if (!a.empty())
      os << "worst element " << worst_i << ": cuda " << a[worst_i] << " vs cpu " << e[worst_i] << ", |diff| " << worst
         << " > limit " << limit << " (scale " << scale << ")";
    INFO(os.str());
    CHECK(finite);
    CHECK(worst <= limit);
  }
}

}  // namespace wb::test
