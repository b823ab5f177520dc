#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "tensor/generator.h"

namespace wb::autograd {

namespace {

double project(const Tensor& out, const Tensor& r) {
  const std::vector<double> o = out.to_double_vector(), w = r.to_double_vector();
  double s = 0.0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * w[i];
  return s;
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, std::vector<Tensor> inputs,
                          const GradcheckOptions& opt) {
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    check(t.dtype() == DType::F64 && !t.is_cuda(), "gradcheck: inputs must be f64 CPU tensors, got ", t.str());
    check(t.is_contiguous(), "gradcheck: inputs must be contiguous, got ", t.str());
  }
  // Analytic pass.
  for (Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) t.set_grad(Tensor());
  }
  Tensor out = fn(inputs);
  check(out.defined() && out.requires_grad(), "gradcheck: the function's output does not require grad");
  Generator gen(opt.seed);
  const Tensor r = Tensor::randn(out.shape(), gen, DType::F64);
  backward(out, r);

  GradcheckResult res;
  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    const Tensor g = x.grad();
    const std::vector<double> analytic =
        g.defined() ? g.to_double_vector() : std::vector<double>(static_cast<size_t>(x.numel()), 0.0);
    double* p = x.data<double>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + opt.eps;
      const double plus = project(fn(inputs), r);
      p[j] = orig - opt.eps;
      const double minus = project(fn(inputs), r);
      p[j] = orig;
      const double numeric = (plus - minus) / (2.0 * opt.eps);
      const double err = std::fabs(numeric - analytic[static_cast<size_t>(j)]);
      res.max_abs_error = std::max(res.max_abs_error, err);
      if (err > opt.atol + opt.rtol * std::fabs(numeric) && res.ok) {
        res.ok = false;
        std::ostringstream os;
        os << "gradcheck: input " << i << " " << x.str() << " element " << j << ": analytic "
           << analytic[static_cast<size_t>(j)] << " vs numeric " << numeric;
        res.message = os.str();
      }
    }
  }
  return res;
}

}  // namespace wb::autograd
