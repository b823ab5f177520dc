// Parity cases aimed at the branch points of the core CUDA kernels (kernels/cuda/elementwise.cu,
// reduce.cu, concat.cu, norm.cu, pool.cu, optim.cu, gemm.cpp), which the shape sweep of
// test_parity_core.cpp may not reach: scalar fallbacks for misaligned views (a view at an odd
// element offset is contiguous but not 16-byte aligned), float4 tails, empty tensors, reductions
// long enough to be split across blocks, concat word widths, optimizer batches beyond one launch,
// every GEMM transpose combination, and .contiguous() of permuted, transposed, narrowed and expanded
// views of every element size (strided_copy_kernel).
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/concat.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
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
constexpr Tol kSum{1e-5, 1e-5};

// Elements [1, n] of a flat input: contiguous, at an odd offset, so the float4 paths are off.
Tensor unaligned(const Tensor& t) {
  const Tensor flat = t.reshape({t.numel()});
  return flat.narrow(0, 1, t.numel() - 1);
}

void elementwise_paths(int64_t n, uint64_t seed) {
  ParityCase c;
  c.name = "elementwise paths n=" + std::to_string(n);
  c.inputs = {rnd({n + 1}, seed, 3.0), rnd({n + 1}, seed + 1), rnd({1}, seed + 2, 0.3)};
  c.run = [](const std::vector<Tensor>& v) -> Outputs {
    const Tensor a = unaligned(v[0]), b = unaligned(v[1]);
    Tensor y = b.clone();
    k::axpy_(y, 0.25, a);
    const Tensor r = k::relu_forward(a);
    const k::PReluGrads pg = k::prelu_backward(b, a, v[2]);
    return {{"add", k::add(a, b)},
            {"mul", k::mul(a, b)},
            {"scale", k::scale(a, 1.5)},
            {"axpy", y},
            {"relu_bwd", k::relu_backward(b, r)},
            {"hswish", k::hswish_forward(a)},
            {"hswish_bwd", k::hswish_backward(b, a)},
            {"sigmoid", k::sigmoid_forward(a)},
            {"prelu", k::prelu_forward(a, v[2])},
            {"prelu_dx", pg.dx},
            {"prelu_dw", pg.dweight},
            {"sum_all", k::sum_all(a)}};
  };
  c.tol = kSum;
  check_parity(c);
}

void reduce_paths(const Shape& s, const Shape& to, uint64_t seed) {
  ParityCase c;
  c.name = "reduce paths " + shape_str(s) + " to " + shape_str(to);
  c.inputs = {rnd(s, seed)};
  c.run = [to](const std::vector<Tensor>& v) -> Outputs {
    return {{"sum_all", k::sum_all(v[0])}, {"sum_to", k::sum_to(v[0], to)}};
  };
  c.tol = kSum;
  check_parity(c);
}

// .contiguous() on CUDA gathers a view with strided_copy_kernel (one instantiation per element
// size); the CPU copies it element by element. Each output is a view of the input made contiguous.
void contiguous_paths(const Shape& s, DType dtype, uint64_t seed) {
  ParityCase c;
  c.name = "contiguous of views " + shape_str(s) + " " + dtype_name(dtype);
  // U8 holds 0..255 only; the others get signed values.
  c.inputs = {dtype == DType::U8 ? uniform(s, seed, 0.0, 250.0).to(dtype) : rnd(s, seed, 4.0).to(dtype)};
  c.run = [](const std::vector<Tensor>& v) -> Outputs {
    const Tensor& x = v[0];  // [A, B, C, D]
    const Tensor nhwc = x.permute({0, 2, 3, 1});
    const Tensor inner = x.narrow(1, 1, x.size(1) - 1).narrow(3, 1, x.size(3) - 2);  // at an offset
    const Tensor five = x.reshape({x.size(0), x.size(1), x.size(2), 1, x.size(3)});
    Outputs out{{"permute_0231", nhwc.contiguous()},
                {"permute_3120", x.permute({3, 1, 2, 0}).contiguous()},
                {"transpose_23", x.transpose(2, 3).contiguous()},
                {"narrowed_permuted", inner.permute({2, 0, 3, 1}).contiguous()},
                {"permute_of_permute", nhwc.permute({3, 0, 2, 1}).contiguous()},
                {"five_dims", five.expand({x.size(0), x.size(1), x.size(2), 3, x.size(3)}).permute({4, 3, 2, 1, 0}).contiguous()}};
    for (const auto& o : out) CHECK_MESSAGE(o.second.is_contiguous(), o.first);
    return out;
  };
  c.tol = {0.0, 0.0};  // a copy: bit for bit
  check_parity(c);
}

void concat_paths(const std::vector<Shape>& shapes, int64_t dim, DType dtype, uint64_t seed) {
  ParityCase c;
  c.name = "concat paths dim " + std::to_string(dim) + " " + dtype_name(dtype);
  for (const Shape& s : shapes) c.inputs.push_back(rnd(s, seed++, 50.0).to(dtype));
  c.run = [dim](const std::vector<Tensor>& v) -> Outputs { return {{"concat", k::concat(v, dim)}}; };
  c.tol = kExact;
  check_parity(c);
}

void bn_paths(const Shape& s, bool relu, uint64_t seed) {
  ParityCase c;
  c.name = "batch norm paths " + shape_str(s) + (relu ? " +relu" : "");
  const int64_t ch = s[1];
  // A large common offset: the statistics must not lose it to cancellation.
  Tensor x = k::add_scalar(rnd(s, seed, 0.5), 20.0);
  c.inputs = {x, rnd({ch}, seed + 1), rnd({ch}, seed + 2), rnd(s, seed + 3), rnd({ch}, seed + 4, 0.1),
              uniform({ch}, seed + 5, 0.5, 1.5)};
  k::BatchNormParams p;
  p.relu = relu;
  c.run = [p](const std::vector<Tensor>& v) -> Outputs {
    Tensor rm = v[4].clone(), rv = v[5].clone();
    const k::BatchNormTrainOut t = k::batch_norm_train_forward(v[0], v[1], v[2], rm, rv, p);
    const k::BatchNormGrads g = k::batch_norm_train_backward(v[3], v[0], t.y, v[1], t.save_mean, t.save_invstd, p);
    Tensor none;
    const k::BatchNormTrainOut u = k::batch_norm_train_forward(v[0], v[1], v[2], none, none, p);
    return {{"y", t.y},         {"mean", t.save_mean},   {"invstd", t.save_invstd}, {"running_mean", rm},
            {"running_var", rv}, {"dx", g.dx},           {"dgamma", g.dgamma},      {"dbeta", g.dbeta},
            {"untracked_y", u.y}};
  };
  c.tol = {1e-4, 1e-4};
  check_parity(c);
}

void pool_paths(const Shape& s, k::Pool2dParams p, uint64_t seed) {
  ParityCase c;
  c.name = "pool paths " + shape_str(s) + " k" + std::to_string(p.kernel[0]) + "x" + std::to_string(p.kernel[1]) +
           " s" + std::to_string(p.stride[0]) + "x" + std::to_string(p.stride[1]);
  const auto hw = k::pool2d_output_hw(s, p);
  c.inputs = {distinct(s, seed), rnd({s[0], s[1], hw[0], hw[1]}, seed + 1), rnd({s[0], s[1], 1, 1}, seed + 2)};
  c.run = [p, s](const std::vector<Tensor>& v) -> Outputs {
    const k::MaxPoolOut m = k::max_pool2d_forward(v[0], p);
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

// More tensors than one launch of the fused step holds, sizes around the 16384-element chunk,
// and a parameter at an odd offset (contiguous, unaligned).
void optim_paths(bool adam, uint64_t seed) {
  ParityCase c;
  c.name = adam ? "adamw many tensors" : "sgd nesterov many tensors";
  std::vector<Shape> shapes;
  for (int i = 0; i < 700; ++i) shapes.push_back({1 + (i * 37) % 61});
  for (int64_t n : {16383, 16384, 16385, 40000}) shapes.push_back({n});
  const size_t n = shapes.size();
  for (size_t i = 0; i < n; ++i) c.inputs.push_back(rnd(shapes[i], seed + i));
  for (size_t i = 0; i < n; ++i) c.inputs.push_back(rnd(shapes[i], seed + n + i));
  c.run = [adam, n](const std::vector<Tensor>& v) -> Outputs {
    std::vector<Tensor> owners, params, grads, s1, s2;
    for (size_t i = 0; i < n; ++i) {
      owners.push_back(v[i].clone());
      // The last parameter is a view at offset 1 of its owner.
      params.push_back(i + 1 == n ? owners[i].narrow(0, 1, owners[i].numel() - 1) : owners[i]);
      grads.push_back(i + 1 == n ? v[n + i].narrow(0, 1, v[n + i].numel() - 1) : v[n + i]);
      s1.push_back(Tensor::zeros(params[i].shape(), params[i].dtype(), params[i].device()));
      s2.push_back(Tensor::zeros(params[i].shape(), params[i].dtype(), params[i].device()));
    }
    for (int step = 1; step <= 2; ++step) {
      if (adam) {
        k::AdamParams p;
        p.lr = 1e-2;
        p.weight_decay = 0.05;
        p.decoupled = true;
        p.step = step;
        k::adam_step(params, grads, s1, s2, p);
      } else {
        k::SgdParams p;
        p.lr = 0.1;
        p.momentum = 0.9;
        p.dampening = 0.1;
        p.nesterov = true;
        p.weight_decay = 1e-3;
        p.first_step = step == 1;
        k::sgd_step(params, grads, s1, p);
      }
    }
    Outputs out;
    for (size_t i = 0; i < n; i += 97) out.push_back({"param" + std::to_string(i), owners[i]});
    out.push_back({"param_last", owners[n - 1]});
    out.push_back({"state_last", s1[n - 1]});
    return out;
  };
  c.tol = {1e-5, 1e-5};
  check_parity(c);
}

void gemm_paths(int64_t m, int64_t n, int64_t kk, uint64_t seed) {
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      ParityCase c;
      c.name = "gemm " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(kk) + (ta ? " A^T" : "") +
               (tb ? " B^T" : "");
      c.inputs = {rnd(ta ? Shape{kk, m} : Shape{m, kk}, seed), rnd(tb ? Shape{n, kk} : Shape{kk, n}, seed + 1),
                  rnd({m, n}, seed + 2)};
      c.run = [ta, tb](const std::vector<Tensor>& v) -> Outputs {
        Tensor acc = v[2].clone(), fresh = Tensor::full(v[2].shape(), std::nan(""), v[2].dtype(), v[2].device());
        k::gemm(ta, tb, 0.75, v[0], v[1], -0.5, acc);
        k::gemm(ta, tb, 1.0, v[0], v[1], 0.0, fresh);  // beta = 0 must not read C
        return {{"c_beta", acc}, {"c_fresh", fresh}};
      };
      c.tol = kSum;
      check_parity(c);
    }
  }
}

}  // namespace

TEST_CASE("parity paths: elementwise tails, misaligned views, reductions") {
  if (!require_gpu()) return;
  elementwise_paths(1, 60);
  elementwise_paths(4, 61);
  elementwise_paths(1027, 62);
  elementwise_paths(200003, 63);
  reduce_paths({0, 5}, {5}, 64);                  // empty input: zeros
  reduce_paths({3, 1025}, {3, 1}, 65);            // rows just past one warp's length
  reduce_paths({2, 1000003}, {2, 1}, 66);         // long odd rows, split across blocks
  reduce_paths({4096, 3}, {3}, 67);               // narrow columns, reduce split across blocks
  reduce_paths({16, 5, 257}, {1, 5, 1}, 68);      // two reduction runs with odd sizes
  reduce_paths({1 << 22}, {1}, 69);               // one long row, split and summed in order
  reduce_paths({6, 64}, {6, 1}, 81);              // short aligned rows of 4k floats: sum_rows_warp_kernel<4>
  reduce_paths({5, 1024}, {5, 1}, 82);            // the longest row one warp takes, float4 loads
}

TEST_CASE("parity paths: concat, batch norm, pooling") {
  if (!require_gpu()) return;
  concat_paths({{3, 1, 5}, {3, 2, 5}}, 1, DType::F32, 70);  // 4-byte words
  concat_paths({{2, 2, 4}, {2, 3, 4}}, 1, DType::F32, 71);  // 16-byte words
  concat_paths({{5, 3}, {5, 1}}, 1, DType::F64, 72);
  concat_paths({{7}, {9}}, 0, DType::I64, 73);
  concat_paths({{0, 3}, {2, 3}}, 0, DType::F32, 74);  // an empty piece
  bn_paths({4, 3}, false, 75);                         // [N, C]: one value per plane
  bn_paths({3, 4, 3, 3}, true, 76);                    // planes not a multiple of 4
  bn_paths({64, 3, 64, 64}, true, 77);                 // channels split across blocks
  k::Pool2dParams p;
  p.kernel = {2, 3};
  p.stride = {3, 2};  // gaps between windows along one axis, overlap along the other
  pool_paths({2, 3, 11, 13}, p, 78);
  p.kernel = {1, 1};
  p.stride = {1, 1};
  pool_paths({1, 2, 3, 5}, p, 79);
  p.kernel = {3, 3};
  p.stride = {2, 2};
  p.padding = {1, 1};
  p.ceil_mode = true;
  pool_paths({2, 3, 41, 41}, p, 80);  // global pool rows past one warp's length, odd
  pool_paths({2, 3, 8, 8}, p, 83);    // global pool over 64-float planes: sum_rows_warp_kernel<4>
}

TEST_CASE("parity paths: contiguous copies of permuted and strided views") {
  if (!require_gpu()) return;
  contiguous_paths({2, 3, 5, 7}, DType::F32, 84);
  contiguous_paths({3, 4, 2, 5}, DType::F64, 85);  // 8-byte elements
  contiguous_paths({2, 5, 3, 4}, DType::I64, 86);
  contiguous_paths({1, 6, 7, 3}, DType::F16, 87);  // 2-byte elements
  contiguous_paths({2, 3, 9, 4}, DType::U8, 88);   // 1-byte elements
  contiguous_paths({4, 33, 17, 65}, DType::F32, 89);  // more elements than one block
}

TEST_CASE("parity paths: fused optimizers and GEMM") {
  if (!require_gpu()) return;
  optim_paths(false, 90);
  optim_paths(true, 91);
  gemm_paths(1, 1, 1, 92);
  gemm_paths(33, 17, 65, 93);
  gemm_paths(128, 96, 300, 94);
  gemm_paths(5, 7, 0, 95);  // empty product: C = beta * C
}
