// CPU reference for elementwise ops: plain loops that read like the math.
#include <algorithm>
#include <cmath>

#include "kernels/common.h"
#include "kernels/elementwise.h"

namespace wb::kernels::cpu {

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_float(a.dtype(), "binary", [&](auto t) {
    using T = decltype(t);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const int64_t n = out.numel();
    switch (op) {
      case BinaryOp::Add:
#pragma omp parallel for if (n > 32768)
        for (int64_t i = 0; i < n; ++i) po[i] = pa[i] + pb[i];
        break;
      case BinaryOp::Sub:
#pragma omp parallel for if (n > 32768)
        for (int64_t i = 0; i < n; ++i) po[i] = pa[i] - pb[i];
        break;
      case BinaryOp::Mul:
#pragma omp parallel for if (n > 32768)
        for (int64_t i = 0; i < n; ++i) po[i] = pa[i] * pb[i];
        break;
    }
  });
}

void scale_add(const Tensor& a, double s, double add, Tensor& out) {
  dispatch_float(a.dtype(), "scale_add", [&](auto t) {
    using T = decltype(t);
    const T* pa = a.data<T>();
    T* po = out.data<T>();
    const T ts = static_cast<T>(s), ta = static_cast<T>(add);
    const int64_t n = out.numel();
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; ++i) po[i] = pa[i] * ts + ta;
  });
}

void axpy(Tensor& y, double alpha, const Tensor& x) {
  dispatch_float(y.dtype(), "axpy", [&](auto t) {
    using T = decltype(t);
    T* py = y.data<T>();
    const T* px = x.data<T>();
    const T ta = static_cast<T>(alpha);
    const int64_t n = y.numel();
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; ++i) py[i] += ta * px[i];
  });
}

namespace {

template <class T>
T relu6(T v) {
  return std::min<T>(std::max<T>(v, T(0)), T(6));
}

}  // namespace

void unary_forward(UnaryOp op, const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), "unary_forward", [&](auto t) {
    using T = decltype(t);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t n = x.numel();
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; ++i) {
      const T v = px[i];
      switch (op) {
        case UnaryOp::Relu: py[i] = v > T(0) ? v : T(0); break;
        case UnaryOp::Sigmoid: py[i] = T(1) / (T(1) + std::exp(-v)); break;
        case UnaryOp::HSwish: py[i] = v * relu6(v + T(3)) / T(6); break;
        case UnaryOp::HSigmoid: py[i] = relu6(v + T(3)) / T(6); break;
        case UnaryOp::Exp: py[i] = std::exp(v); break;
        case UnaryOp::Log: py[i] = std::log(v); break;
      }
    }
  });
}

void unary_backward(UnaryOp op, const Tensor& dy, const Tensor& saved, Tensor& dx) {
  dispatch_float(dy.dtype(), "unary_backward", [&](auto t) {
    using T = decltype(t);
    const T* pg = dy.data<T>();
    const T* ps = saved.data<T>();
    T* pd = dx.data<T>();
    const int64_t n = dy.numel();
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; ++i) {
      const T g = pg[i], s = ps[i];
      switch (op) {
        case UnaryOp::Relu: pd[i] = s > T(0) ? g : T(0); break;
        case UnaryOp::Sigmoid: pd[i] = g * s * (T(1) - s); break;
        // d/dx [x relu6(x+3)/6]: 0 below -3, 1 above 3, (2x+3)/6 between (PyTorch's convention
        // at the kinks: the open interval (-3, 3) takes the middle formula).
        case UnaryOp::HSwish:
          pd[i] = s < T(-3) ? T(0) : (s > T(3) ? g : g * (T(2) * s + T(3)) / T(6));
          break;
        case UnaryOp::HSigmoid: pd[i] = (s > T(-3) && s < T(3)) ? g / T(6) : T(0); break;
        case UnaryOp::Exp: pd[i] = g * s; break;
        case UnaryOp::Log: pd[i] = g / s; break;
      }
    }
  });
}

void prelu_forward(const Tensor& x, const Tensor& weight, Tensor& y) {
  dispatch_float(x.dtype(), "prelu", [&](auto t) {
    using T = decltype(t);
    const T* px = x.data<T>();
    const T* pw = weight.data<T>();
    T* py = y.data<T>();
    const int64_t n = x.size(0), c = x.dim() >= 2 ? x.size(1) : 1, inner = x.numel() / std::max<int64_t>(1, n * c);
    const bool shared = weight.numel() == 1;
#pragma omp parallel for collapse(2) if (x.numel() > 32768)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const T a = pw[shared ? 0 : ch];
        const int64_t base = (i * c + ch) * inner;
        for (int64_t k = 0; k < inner; ++k) {
          const T v = px[base + k];
          py[base + k] = v > T(0) ? v : a * v;
        }
      }
    }
  });
}

void prelu_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, Tensor& dx, Tensor& dweight) {
  dispatch_float(x.dtype(), "prelu_backward", [&](auto t) {
    using T = decltype(t);
    const T* pg = dy.data<T>();
    const T* px = x.data<T>();
    const T* pw = weight.data<T>();
    T* pdx = dx.data<T>();
    T* pdw = dweight.data<T>();
    const int64_t n = x.size(0), c = x.dim() >= 2 ? x.size(1) : 1, inner = x.numel() / std::max<int64_t>(1, n * c);
    const bool shared = weight.numel() == 1;
    std::vector<double> dw(static_cast<size_t>(c), 0.0);
#pragma omp parallel for if (x.numel() > 32768)
    for (int64_t ch = 0; ch < c; ++ch) {
      const T a = pw[shared ? 0 : ch];
      double acc = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t base = (i * c + ch) * inner;
        for (int64_t k = 0; k < inner; ++k) {
          const T v = px[base + k], g = pg[base + k];
          pdx[base + k] = v > T(0) ? g : a * g;
          if (v <= T(0)) acc += static_cast<double>(g * v);
        }
      }
      dw[static_cast<size_t>(ch)] = acc;
    }
    if (shared) {
      double s = 0.0;
      for (double v : dw) s += v;
      pdw[0] = static_cast<T>(s);
    } else {
      for (int64_t ch = 0; ch < c; ++ch) pdw[ch] = static_cast<T>(dw[static_cast<size_t>(ch)]);
    }
  });
}

}  // namespace wb::kernels::cpu
