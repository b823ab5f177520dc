// The backward pass: one reverse topological walk from the roots, summing gradients per node
// output, calling each node once all its consumers have contributed.
#pragma once
#include <functional>
#include <vector>

#include "tensor/tensor.h"

namespace wb::autograd {

// root must require grad. A non-scalar root needs a seed of its shape (an error otherwise).
// retain_graph=false frees every visited node's saved tensors.
void backward(const Tensor& root, const Tensor& seed = Tensor(), bool retain_graph = false);
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds, bool retain_graph = false);

// Called during backward() once per leaf whose gradient is final (its AccumulateGrad node ran: every
// path into it is done). The data-parallel reducer (nn/data_parallel.h) starts all-reducing finished
// gradients from it while the rest of backward runs. Per thread; an empty function clears it.
using GradReadyHook = std::function<void(const Tensor& leaf)>;
void set_grad_ready_hook(GradReadyHook hook);

}  // namespace wb::autograd
