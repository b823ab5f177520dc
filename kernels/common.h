// Shared checks and dtype dispatch for the op library. Every public op validates its inputs here
// and reports errors naming the op and the shapes, before picking the CPU or CUDA implementation.
// Every public op also opens a profile::OpScope at its entry, with its cost formula (tensor/profile.h).
#pragma once
#include <initializer_list>
#include <string>

#include "tensor/profile.h"
#include "tensor/tensor.h"

namespace wb::kernels {

// All defined tensors on one device; errors name the op and every tensor.
void check_same_device(const char* op, std::initializer_list<const Tensor*> ts);
// All defined tensors of one floating dtype (f32 or f64).
void check_same_float_dtype(const char* op, std::initializer_list<const Tensor*> ts);
void check_dim(const char* op, const char* name, const Tensor& t, int64_t ndim);
// CUDA kernels are f32: f64 is the CPU's gradient-check type.
void check_cuda_f32(const char* op, const Tensor& t);

// Calls f(T{}) with T = float or double according to `t`; other dtypes are an error naming `op`.
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  if (t == DType::F32) return f(float{});
  if (t == DType::F64) return f(double{});
  fail(op, ": dtype ", dtype_name(t), " is not supported (f32 or f64)");
}

// Output shape of broadcasting a and b (numpy rules); error names the op and shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

}  // namespace wb::kernels
