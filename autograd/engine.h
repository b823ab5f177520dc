// The backward pass: one reverse topological walk from the roots, summing gradients per node
// output, calling each node once all its consumers have contributed.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace wb::autograd {

// root must require grad. A non-scalar root needs a seed of its shape (an error otherwise).
// retain_graph=false frees every visited node's saved tensors.
void backward(const Tensor& root, const Tensor& seed = Tensor(), bool retain_graph = false);
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds, bool retain_graph = false);

}  // namespace wb::autograd
