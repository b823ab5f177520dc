// Differentiable elementwise, reduction, shape and concatenation ops. Each records its backward
// next to its forward when an input requires grad.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace wb::ops {

Tensor add(const Tensor& a, const Tensor& b);  // broadcasting; gradients summed back to each shape
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& a, double s);
Tensor add_scalar(const Tensor& a, double s);
Tensor sum(const Tensor& x);   // 0-d
Tensor mean(const Tensor& x);  // 0-d

Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor hswish(const Tensor& x);
Tensor hsigmoid(const Tensor& x);
Tensor prelu(const Tensor& x, const Tensor& weight);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);  // natural log

Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const std::vector<int64_t>& order);  // returns a contiguous copy
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);  // contiguous copy
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);

}  // namespace wb::ops
