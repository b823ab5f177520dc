// A recorded op in the define-by-run graph. Each node holds the backward closure of one forward
// call, the edges to where its input gradients go, and the metadata of its outputs (so missing
// output gradients can be filled with zeros).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace wb::autograd {

struct Node;

struct Edge {
  std::shared_ptr<Node> fn;  // null: this input needs no gradient
  int input_nr = 0;          // which output of fn the gradient belongs to
};

// Gradients for each output in, gradients for each input out (undefined = none).
using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)>;

struct OutputMeta {
  Shape shape;
  DType dtype = DType::F32;
  Device device;
};

struct Node {
  std::string name;
  std::vector<Edge> next;  // one per forward input
  std::vector<OutputMeta> outputs;
  BackwardFn backward;  // holds the saved tensors; reset by release()
  bool released = false;
  int profile_module = -1;  // the profiler's module of the forward call (tensor/profile.h); -1: none

  virtual ~Node() = default;
  virtual std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs);
  // Frees the saved tensors; a later backward through this node is an error.
  virtual void release();
};

// Accumulates into a leaf's .grad.
struct AccumulateGrad : Node {
  explicit AccumulateGrad(const Tensor& leaf);
  std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override;
  void release() override {}
  Tensor leaf;
};

// Whether recording is on for this thread (NoGradGuard turns it off).
bool grad_mode_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when recording is on and some input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Records one op: creates the node, connects it to the inputs' gradient edges, marks each output
// as produced by it. Outputs must be fresh tensors (not views of inputs). Call only when
// needs_grad(inputs). Returns the node.
std::shared_ptr<Node> record(const std::string& name, const std::vector<Tensor>& inputs,
                             std::vector<Tensor*> outputs, BackwardFn backward);

// The edge a gradient for tensor t must travel: its grad_fn, or the leaf's accumulator.
Edge gradient_edge(const Tensor& t);

}  // namespace wb::autograd
