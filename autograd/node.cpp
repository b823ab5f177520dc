#include "autograd/node.h"

#include "kernels/elementwise.h"
#include "tensor/profile.h"

namespace wb::autograd {

namespace {
thread_local bool g_grad_mode = true;
}

std::vector<Tensor> Node::apply(const std::vector<Tensor>& grad_outputs) {
  check(!released && backward, "backward through the graph a second time (op ", name,
        "): its saved tensors were freed; call backward with retain_graph=true the first time");
  return backward(grad_outputs);
}

void Node::release() {
  backward = nullptr;
  released = true;
}

AccumulateGrad::AccumulateGrad(const Tensor& l) : leaf(l) {
  name = "AccumulateGrad";
  outputs.push_back({l.shape(), l.dtype(), l.device()});
}

std::vector<Tensor> AccumulateGrad::apply(const std::vector<Tensor>& grad_outputs) {
  const Tensor& g = grad_outputs.at(0);
  if (!g.defined()) return {};
  Tensor existing = leaf.grad();
  if (!existing.defined()) {
    // A fresh buffer: the incoming tensor may be shared with other parts of the graph.
    leaf.set_grad(g.is_contiguous() ? g.clone() : g.contiguous().clone());
  } else {
    kernels::axpy_(existing, 1.0, g);
  }
  return {};
}

bool grad_mode_enabled() { return g_grad_mode; }

NoGradGuard::NoGradGuard() : prev_(g_grad_mode) { g_grad_mode = false; }
NoGradGuard::~NoGradGuard() { g_grad_mode = prev_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor* t : inputs) {
    if (t->defined() && t->requires_grad()) return true;
  }
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  if (t.grad_fn()) return {t.grad_fn(), t.output_nr()};
  AutogradMeta& meta = const_cast<Tensor&>(t).autograd_meta();
  std::shared_ptr<Node> acc = meta.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    meta.grad_accumulator = acc;
  }
  return {acc, 0};
}

std::shared_ptr<Node> record(const std::string& name, const std::vector<Tensor>& inputs, std::vector<Tensor*> outputs,
                             BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  if (profile::enabled()) node->profile_module = profile::current_module();
  node->backward = std::move(backward);
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) node->next.push_back(gradient_edge(t));
  for (size_t i = 0; i < outputs.size(); ++i) {
    Tensor& out = *outputs[i];
    node->outputs.push_back({out.shape(), out.dtype(), out.device()});
    AutogradMeta& meta = out.autograd_meta();
    meta.requires_grad = true;
    meta.grad_fn = node;
    meta.output_nr = static_cast<int>(i);
  }
  return node;
}

}  // namespace wb::autograd
