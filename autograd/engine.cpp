#include "autograd/engine.h"

#include <unordered_map>

#include "autograd/node.h"
#include "kernels/elementwise.h"
#include "tensor/profile.h"

namespace wb::autograd {

namespace {
thread_local GradReadyHook g_grad_ready;
}  // namespace

void set_grad_ready_hook(GradReadyHook hook) { g_grad_ready = std::move(hook); }

void backward(const Tensor& root, const Tensor& seed, bool retain_graph) {
  backward(std::vector<Tensor>{root}, std::vector<Tensor>{seed}, retain_graph);
}

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds, bool retain_graph) {
  check(roots.size() == seeds.size(), "backward: ", roots.size(), " roots but ", seeds.size(), " seeds");
  NoGradGuard no_grad;  // the backward pass itself is not recorded
  const profile::PhaseScope phase(profile::Phase::Backward);
  std::unordered_map<Node*, std::vector<Tensor>> pending;  // gradient sums per node output
  std::vector<std::shared_ptr<Node>> root_nodes;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    check(r.defined() && r.requires_grad(), "backward: tensor ", r.str(), " does not require grad");
    Tensor s = seeds[i];
    if (!s.defined()) {
      check(r.numel() == 1, "backward: tensor ", r.str(), " is not a scalar; pass a seed gradient of its shape");
      s = Tensor::ones(r.shape(), r.dtype(), r.device());
    }
    check(s.shape() == r.shape(), "backward: seed ", s.str(), " does not match ", r.str());
    Edge e = gradient_edge(r);
    auto& slot = pending[e.fn.get()];
    slot.resize(e.fn->outputs.size());
    if (slot[e.input_nr].defined()) {
      slot[e.input_nr] = kernels::add(slot[e.input_nr], s);
    } else {
      slot[e.input_nr] = s;
    }
    root_nodes.push_back(e.fn);
  }

  // Count, for every reachable node, how many edges point into it.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  std::unordered_map<Node*, bool> seen;
  for (auto& n : root_nodes) {
    if (!seen[n.get()]) {
      seen[n.get()] = true;
      stack.push_back(n.get());
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (!e.fn) continue;
      ++deps[e.fn.get()];
      if (!seen[e.fn.get()]) {
        seen[e.fn.get()] = true;
        stack.push_back(e.fn.get());
      }
    }
  }

  std::vector<std::shared_ptr<Node>> ready;
  for (auto& n : root_nodes) {
    if (deps[n.get()] == 0) {
      ready.push_back(n);
      deps[n.get()] = -1;  // queued
    }
  }
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.back();
    ready.pop_back();
    std::vector<Tensor> grads = std::move(pending[node.get()]);
    pending.erase(node.get());
    grads.resize(node->outputs.size());
    bool any = false;
    for (const Tensor& g : grads) any = any || g.defined();
    std::vector<Tensor> input_grads;
    if (any) {
      // Outputs nobody used get zero gradients, so every backward closure sees defined tensors.
      for (size_t i = 0; i < grads.size(); ++i) {
        const OutputMeta& m = node->outputs[i];
        if (!grads[i].defined()) grads[i] = Tensor::zeros(m.shape, m.dtype, m.device);
      }
      // The profiler attributes the node's kernels to the module its forward ran in.
      const profile::ModuleOverride module(node->profile_module);
      input_grads = node->apply(grads);
      if (g_grad_ready) {
        if (auto* acc = dynamic_cast<AccumulateGrad*>(node.get())) g_grad_ready(acc->leaf);
      }
    }
    if (!retain_graph) node->release();
    for (size_t i = 0; i < node->next.size(); ++i) {
      const Edge& e = node->next[i];
      if (!e.fn) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        auto& slot = pending[e.fn.get()];
        slot.resize(e.fn->outputs.size());
        const OutputMeta& m = e.fn->outputs[e.input_nr];
        check(input_grads[i].shape() == m.shape, "backward: op ", node->name, " returned a gradient ",
              input_grads[i].str(), " for input ", i, " of shape ", shape_str(m.shape));
        if (slot[e.input_nr].defined()) {
          slot[e.input_nr] = kernels::add(slot[e.input_nr], input_grads[i]);
        } else {
          slot[e.input_nr] = input_grads[i];
        }
      }
      if (--deps[e.fn.get()] == 0) ready.push_back(e.fn);
    }
  }
}

}  // namespace wb::autograd
