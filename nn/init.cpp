#include "nn/init.h"

#include <cmath>

namespace wb::nn::init {

Fans fans(const Tensor& w) {
  check(w.defined() && w.dim() >= 2, "init: fan in/out needs a weight of at least 2 dims, got ",
        w.defined() ? w.str() : std::string("an undefined tensor"));
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

double gain(Nonlinearity nl, double a) {
  switch (nl) {
    case Nonlinearity::Linear:
      return 1.0;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU:
      return std::sqrt(2.0 / (1.0 + a * a));
  }
  fail("init: unknown nonlinearity");
}

namespace {

double kaiming_std(const Tensor& w, FanMode mode, Nonlinearity nl, double a) {
  const Fans f = fans(w);
  const int64_t fan = mode == FanMode::FanIn ? f.fan_in : f.fan_out;
  check(fan > 0, "init: kaiming on a weight with zero fan: ", w.str());
  return gain(nl, a) / std::sqrt(static_cast<double>(fan));
}

// Values are drawn on the CPU in f64 and copied in (copy_ is never recorded), so a seed gives the
// same weights on every device and dtype.
void assign(Tensor& t, const Tensor& values) { t.copy_(values); }

}  // namespace

void kaiming_normal_(Tensor& w, Generator& gen, FanMode mode, Nonlinearity nl, double a) {
  normal_(w, gen, 0.0, kaiming_std(w, mode, nl, a));
}

void kaiming_uniform_(Tensor& w, Generator& gen, FanMode mode, Nonlinearity nl, double a) {
  const double bound = std::sqrt(3.0) * kaiming_std(w, mode, nl, a);
  uniform_(w, gen, -bound, bound);
}

void normal_(Tensor& t, Generator& gen, double mean, double std) {
  check(std >= 0.0, "init: normal_ with std ", std, " on ", t.str());
  assign(t, Tensor::randn(t.shape(), gen, DType::F64, Device::cpu(), mean, std));
}

void uniform_(Tensor& t, Generator& gen, double lo, double hi) {
  check(lo <= hi, "init: uniform_ with bounds [", lo, ", ", hi, ") on ", t.str());
  assign(t, Tensor::rand(t.shape(), gen, DType::F64, Device::cpu(), lo, hi));
}

void constant_(Tensor& t, double value) { t.fill_(value); }

}  // namespace wb::nn::init
