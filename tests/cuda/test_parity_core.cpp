// Parity of elementwise ops, activations, reductions, concat, batch norm, pooling, optimizers.
#include <doctest/doctest.h>

#include "kernels/concat.h"
#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "kernels/optim.h"
#include "kernels/pool.h"
#include "kernels/reduce.h"
#include "tests/cuda/parity.h"

using namespace wb;
using namespace wb::test;
namespace k = wb::kernels;

namespace {

constexpr Tol kExact{1e-6, 1e-6};
constexpr Tol kSum{1e-5, 1e-5};  // reordered f32 sums

void elementwise_cases(const Shape& a, const Shape& b, uint64_t seed) {
  ParityCase c;
  c.name = "binary " + shape_str(a) + " with " + shape_str(b);
  c.inputs = {rnd(a, seed), rnd(b, seed + 1)};
  c.run = [](const std::vector<Tensor>& v) -> Outputs {
    Tensor y = k::add(v[0], v[0]);
    k::axpy_(y, -0.5, v[0]);
    return {{"add", k::add(v[0], v[1])}, {"sub", k::sub(v[0], v[1])}, {"mul", k::mul(v[0], v[1])},
            {"scale", k::scale(v[0], -2.5)}, {"add_scalar", k::add_scalar(v[0], 0.75)}, {"axpy", y}};
  };
  c.tol = kExact;
  check_parity(c);
}

void unary_cases(const Shape& s, uint64_t seed) {
  ParityCase c;
  c.name = "activations " + shape_str(s);
  const int64_t ch = s.size() >= 2 ? s[1] : 1;
  c.inputs = {rnd(s, seed, 4.0), rnd(s, seed + 1), rnd({ch}, seed + 2, 0.3), rnd({1}, seed + 3, 0.3)};
  c.run = [](const std::vector<Tensor>& v) -> Outputs {
    const Tensor& x = v[0];
    const Tensor& dy = v[1];
    Tensor r = k::relu_forward(x), sg = k::sigmoid_forward(x);
    k::PReluGrads pc = k::prelu_backward(dy, x, v[2]);
    k::PReluGrads ps = k::prelu_backward(dy, x, v[3]);
    return {{"relu", r},
            {"relu_bwd", k::relu_backward(dy, r)},
            {"sigmoid", sg},
            {"sigmoid_bwd", k::sigmoid_backward(dy, sg)},
            {"hswish", k::hswish_forward(x)},
            {"hswish_bwd", k::hswish_backward(dy, x)},
            {"hsigmoid", k::hsigmoid_forward(x)},
            {"hsigmoid_bwd", k::hsigmoid_backward(dy, x)},
            {"prelu", k::prelu_forward(x, v[2])},
            {"prelu_dx", pc.dx},
            {"prelu_dw", pc.dweight},
            {"prelu_shared", k::prelu_forward(x, v[3])},
            {"prelu_shared_dw", ps.dweight}};
  };
  c.tol = kSum;
  check_parity(c);
}

void reduce_cases(const Shape& s, const Shape& to, uint64_t seed) {
  ParityCase c;
  c.name = "reduce " + shape_str(s) + " to " + shape_str(to);
  c.inputs = {rnd(s, seed)};
  c.run = [to](const std::vector<Tensor>& v) -> Outputs {
    return {{"sum_all", k::sum_all(v[0])}, {"mean_all", k::mean_all(v[0])}, {"sum_to", k::sum_to(v[0], to)}};
  };
  c.tol = kSum;
  check_parity(c);
}

void concat_case(const std::vector<Shape>& shapes, int64_t dim, uint64_t seed) {
  ParityCase c;
  c.name = "concat dim " + std::to_string(dim);
  for (const Shape& s : shapes) c.inputs.push_back(rnd(s, seed++));
  c.run = [dim](const std::vector<Tensor>& v) -> Outputs {
    Tensor y = k::concat(v, dim);
    std::vector<int64_t> sizes;
    for (const Tensor& t : v) sizes.push_back(t.size(dim));
    Outputs out{{"concat", y}};
    auto parts = k::split(y, sizes, dim);
    for (size_t i = 0; i < parts.size(); ++i) out.push_back({"split" + std::to_string(i), parts[i]});
    return out;
  };
  c.tol = kExact;
  check_parity(c);
}

void bn_case(const Shape& s, bool relu, uint64_t seed) {
  ParityCase c;
  c.name = "batch norm " + shape_str(s) + (relu ? " +relu" : "");
  const int64_t ch = s[1];
  c.inputs = {rnd(s, seed, 2.0), rnd({ch}, seed + 1), rnd({ch}, seed + 2), rnd(s, seed + 3),
              rnd({ch}, seed + 4, 0.1), uniform({ch}, seed + 5, 0.5, 1.5)};
  k::BatchNormParams p;
  p.relu = relu;
  p.momentum = 0.1;
  c.run = [p](const std::vector<Tensor>& v) -> Outputs {
    Tensor rm = v[4].clone(), rv = v[5].clone();
    k::BatchNormTrainOut t = k::batch_norm_train_forward(v[0], v[1], v[2], rm, rv, p);
    k::BatchNormGrads gt = k::batch_norm_train_backward(v[3], v[0], t.y, v[1], t.save_mean, t.save_invstd, p);
    Tensor ye = k::batch_norm_eval_forward(v[0], v[1], v[2], v[4], v[5], p);
    k::BatchNormGrads ge = k::batch_norm_eval_backward(v[3], v[0], ye, v[1], v[4], v[5], p);
    return {{"y", t.y},          {"mean", t.save_mean}, {"invstd", t.save_invstd}, {"running_mean", rm},
            {"running_var", rv}, {"dx", gt.dx},         {"dgamma", gt.dgamma},     {"dbeta", gt.dbeta},
            {"eval_y", ye},      {"eval_dx", ge.dx},    {"eval_dgamma", ge.dgamma}, {"eval_dbeta", ge.dbeta}};
  };
  c.tol = {1e-4, 1e-4};
  check_parity(c);
}

void pool_case(const Shape& s, k::Pool2dParams p, uint64_t seed) {
  ParityCase c;
  c.name = "pool " + shape_str(s) + " k" + std::to_string(p.kernel[0]) + " s" + std::to_string(p.stride[0]) + " p" +
           std::to_string(p.padding[0]) + (p.ceil_mode ? " ceil" : "") + (p.count_include_pad ? "" : " nopad");
  const auto hw = k::pool2d_output_hw(s, p);
  c.inputs = {distinct(s, seed), rnd({s[0], s[1], hw[0], hw[1]}, seed + 1), rnd({s[0], s[1], 1, 1}, seed + 2)};
  c.run = [p, s](const std::vector<Tensor>& v) -> Outputs {
    k::MaxPoolOut m = k::max_pool2d_forward(v[0], p);
    return {{"max", m.y},
            {"max_idx", m.indices},
            {"max_bwd", k::max_pool2d_backward(v[1], m.indices, s)},
            {"avg", k::avg_pool2d_forward(v[0], p)},
            {"avg_bwd", k::avg_pool2d_backward(v[1], s, p)},
            {"gap", k::global_avg_pool_forward(v[0])},
            {"gap_bwd", k::global_avg_pool_backward(v[2], s)}};
  };
  c.tol = kSum;
  check_parity(c);
}

void optim_case(bool adam, bool decoupled, double momentum, bool nesterov, uint64_t seed) {
  ParityCase c;
  c.name = adam ? (decoupled ? "adamw" : "adam") : (nesterov ? "sgd nesterov" : "sgd");
  const std::vector<Shape> shapes = {{7}, {64, 3, 3, 3}, {1}, {1000, 17}};
  for (size_t i = 0; i < shapes.size(); ++i) c.inputs.push_back(rnd(shapes[i], seed + i));
  for (size_t i = 0; i < shapes.size(); ++i) c.inputs.push_back(rnd(shapes[i], seed + 10 + i));
  c.run = [adam, decoupled, momentum, nesterov, n = shapes.size()](const std::vector<Tensor>& v) -> Outputs {
    std::vector<Tensor> params, grads, s1, s2;
    for (size_t i = 0; i < n; ++i) {
      params.push_back(v[i].clone());
      grads.push_back(i == 2 ? Tensor() : v[n + i]);  // one parameter without a gradient: skipped
      s1.push_back(Tensor::zeros(v[i].shape(), v[i].dtype(), v[i].device()));
      s2.push_back(Tensor::zeros(v[i].shape(), v[i].dtype(), v[i].device()));
    }
    for (int step = 1; step <= 3; ++step) {
      if (adam) {
        k::AdamParams p;
        p.lr = 1e-2;
        p.weight_decay = 0.05;
        p.decoupled = decoupled;
        p.step = step;
        k::adam_step(params, grads, s1, s2, p);
      } else {
        k::SgdParams p;
        p.lr = 0.1;
        p.momentum = momentum;
        p.nesterov = nesterov;
        p.weight_decay = 1e-3;
        p.first_step = step == 1;
        k::sgd_step(params, grads, s1, p);
      }
    }
    Outputs out;
    for (size_t i = 0; i < n; ++i) out.push_back({"param" + std::to_string(i), params[i]});
    return out;
  };
  c.tol = {1e-5, 1e-5};
  check_parity(c);
}

}  // namespace

TEST_CASE("parity small: elementwise, activations, reductions, concat") {
  if (!require_gpu()) return;
  elementwise_cases({2, 3, 5, 7}, {2, 3, 5, 7}, 1);
  elementwise_cases({2, 3, 5, 7}, {1, 3, 1, 7}, 2);
  elementwise_cases({5}, {1}, 3);
  elementwise_cases({1}, {1}, 4);
  unary_cases({2, 3, 5, 7}, 5);
  unary_cases({1, 1, 1, 1}, 6);
  unary_cases({3, 17, 2, 3}, 7);
  reduce_cases({2, 3, 5, 7}, {1, 3, 1, 1}, 8);
  reduce_cases({2, 3, 5, 7}, {7}, 9);
  reduce_cases({1}, {1}, 10);
  reduce_cases({4, 1000}, {1000}, 11);
  concat_case({{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 7, 4, 5}}, 1, 12);
  concat_case({{1, 3, 5}, {2, 3, 5}}, 0, 13);
  concat_case({{2, 3, 1}, {2, 3, 4}}, 2, 14);
}

TEST_CASE("parity small: batch norm, pooling, optimizers") {
  if (!require_gpu()) return;
  bn_case({2, 3, 5, 7}, false, 20);
  bn_case({2, 3, 5, 7}, true, 21);
  bn_case({3, 17, 1, 1}, false, 22);
  k::Pool2dParams p;
  pool_case({2, 3, 9, 11}, p, 30);
  p.kernel = {3, 3};
  p.stride = {2, 2};
  p.padding = {1, 1};
  pool_case({2, 4, 9, 11}, p, 31);
  p.ceil_mode = true;
  pool_case({1, 2, 10, 7}, p, 32);
  p.count_include_pad = false;
  pool_case({1, 2, 10, 7}, p, 33);
  p = {};
  p.kernel = {3, 3};
  p.stride = {1, 1};
  p.padding = {1, 1};
  pool_case({1, 3, 5, 6}, p, 34);
  optim_case(false, false, 0.0, false, 40);
  optim_case(false, false, 0.9, false, 41);
  optim_case(false, false, 0.9, true, 42);
  optim_case(true, false, 0.0, false, 43);
  optim_case(true, true, 0.0, false, 44);
}

TEST_CASE("parity large: batch 32 shapes") {
  if (!require_gpu()) return;
  elementwise_cases({32, 32, 64, 48}, {32, 32, 64, 48}, 50);
  unary_cases({32, 64, 32, 24}, 51);
  reduce_cases({32, 32, 64, 48}, {1, 32, 1, 1}, 52);
  concat_case({{32, 32, 64, 48}, {32, 64, 64, 48}}, 1, 53);
  bn_case({32, 32, 64, 48}, true, 54);
  bn_case({32, 256, 8, 6}, false, 55);
  k::Pool2dParams p;
  p.kernel = {3, 3};
  p.stride = {2, 2};
  p.padding = {1, 1};
  pool_case({32, 64, 128, 96}, p, 56);
}
