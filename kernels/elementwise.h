// Elementwise arithmetic and activations. The public functions check and dispatch; the cpu:: and
// cuda:: versions receive contiguous inputs of equal shape (broadcasting is resolved before).
#pragma once
#include "tensor/tensor.h"

namespace wb::kernels {

Tensor add(const Tensor& a, const Tensor& b);  // numpy broadcasting
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& a, double s);         // a * s
Tensor add_scalar(const Tensor& a, double s);    // a + s
void axpy_(Tensor& y, double alpha, const Tensor& x);  // y += alpha * x in place (same shape)

// Activations: forward, and backward from the upstream gradient dy.
Tensor relu_forward(const Tensor& x);
Tensor relu_backward(const Tensor& dy, const Tensor& y);  // uses the output: dy * (y > 0)
Tensor sigmoid_forward(const Tensor& x);
Tensor sigmoid_backward(const Tensor& dy, const Tensor& y);  // dy * y * (1 - y)
Tensor hswish_forward(const Tensor& x);                     // x * relu6(x + 3) / 6
Tensor hswish_backward(const Tensor& dy, const Tensor& x);
Tensor hsigmoid_forward(const Tensor& x);                   // relu6(x + 3) / 6
Tensor hsigmoid_backward(const Tensor& dy, const Tensor& x);
Tensor exp_forward(const Tensor& x);
Tensor exp_backward(const Tensor& dy, const Tensor& y);  // uses the output: dy * y
Tensor log_forward(const Tensor& x);                     // natural log; -inf at 0, NaN below
Tensor log_backward(const Tensor& dy, const Tensor& x);  // dy / x
// PReLU with one slope per channel (dim 1) or a single shared slope (weight of shape [1]).
Tensor prelu_forward(const Tensor& x, const Tensor& weight);
struct PReluGrads { Tensor dx, dweight; };
PReluGrads prelu_backward(const Tensor& dy, const Tensor& x, const Tensor& weight);

enum class BinaryOp { Add, Sub, Mul };
enum class UnaryOp { Relu, Sigmoid, HSwish, HSigmoid, Exp, Log };

namespace cpu {
void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
void scale_add(const Tensor& a, double s, double add, Tensor& out);  // out = a * s + add
void axpy(Tensor& y, double alpha, const Tensor& x);
void unary_forward(UnaryOp op, const Tensor& x, Tensor& y);
// For Relu, Sigmoid and Exp `saved` is the output y, for HSwish, HSigmoid and Log the input x.
void unary_backward(UnaryOp op, const Tensor& dy, const Tensor& saved, Tensor& dx);
void prelu_forward(const Tensor& x, const Tensor& weight, Tensor& y);
void prelu_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, Tensor& dx, Tensor& dweight);
}  // namespace cpu

namespace cuda {
void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
void scale_add(const Tensor& a, double s, double add, Tensor& out);
void axpy(Tensor& y, double alpha, const Tensor& x);
void unary_forward(UnaryOp op, const Tensor& x, Tensor& y);
void unary_backward(UnaryOp op, const Tensor& dy, const Tensor& saved, Tensor& dx);
void prelu_forward(const Tensor& x, const Tensor& weight, Tensor& y);
void prelu_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, Tensor& dx, Tensor& dweight);
}  // namespace cuda

}  // namespace wb::kernels
