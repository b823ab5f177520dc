// Module: the unit networks are built from. A module owns named parameters (leaf tensors that
// require grad), named buffers (state that is saved but not trained, e.g. BN running statistics)
// and named child modules, each kept in registration order. From them come the dotted names
// PyTorch builds ("backbone.layer1.0.downsample.0.weight"), in PyTorch's order, so that
// state_dict() of our models reads like MMPose 1.x's and its checkpoints load without a rename.
//
// How a layer is written:
//
//   class Block : public nn::Module {
//    public:
//     Block(int64_t c) {
//       conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(...));
//       bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(c));
//     }
//     std::string type_name() const override { return "Block"; }
//     Tensor forward(const Tensor& x) override { return ops::relu((*bn1)((*conv1)(x))); }
//     std::shared_ptr<nn::Conv2d> conv1;
//     std::shared_ptr<nn::BatchNorm2d> bn1;
//   };
//
// A registered tensor keeps its identity for the module's lifetime: to(device), to(dtype) and
// load_state_dict() change its storage and values in place, so copies of it held by the layer
// (e.g. a `Tensor weight` member) or by an optimizer stay valid.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/generator.h"
#include "tensor/profile.h"
#include "tensor/safetensors.h"
#include "tensor/tensor.h"

namespace wb::nn {

// Name -> tensor in a defined order (registration order, depth first): a state_dict.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a non-strict load_state_dict() left aside (a strict one raises instead).
struct LoadResult {
  std::vector<std::string> missing;     // in the module, absent from the map: left as they were
  std::vector<std::string> unexpected;  // in the map, not in the module: ignored
  // in both, shapes or dtype kinds differ: "name: given [..] f32 vs module [..] i64"; left as they were
  std::vector<std::string> mismatched;
  bool clean() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
};

class Module {
 public:
  Module() = default;
  virtual ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The class name shown by the FLOPs report and in errors ("Conv2d", "HRNet").
  virtual std::string type_name() const { return "Module"; }

  // The computation of single-input modules. The default raises an error naming the type:
  // containers whose children take several inputs (HRNet's fuse layers) do not override it.
  virtual Tensor forward(const Tensor& x);
  // Calls forward(). Parents call children through this, never forward() directly. While the
  // profiler records, the ops inside are attributed to this module's path (tensor/profile.h).
  Tensor operator()(const Tensor& x) {
    return profiled([&] { return forward(x); });
  }
  // The dotted name under the outermost module this one is registered in, as named_modules() of
  // that module gives it ("" for the outermost itself). A module registered twice has its last name.
  std::string path() const;

  // Draws fresh initial values. Layers override it with their default initialisation (PyTorch's
  // for torch.nn layers, mmcv's for mmcv blocks); the default re-initialises each child in
  // registration order. Models override it with their paper's scheme (nn/init.h).
  virtual void reset_parameters(Generator& gen);

  // ---- tree ----
  // Direct children, registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // This module (name "") and all descendants, depth first in registration order, with dotted
  // names ("layer1.0.downsample"), as torch.nn.Module.named_modules().
  std::vector<std::pair<std::string, Module*>> named_modules();
  // The descendant at a dotted path ("" is this module); error naming the path when absent.
  Module& at(const std::string& path);

  // ---- parameters and buffers ----
  // Depth first: a module's own entries in registration order, then each child's, dotted names.
  // Undefined (absent) entries, like a conv without bias, do not appear, as in PyTorch.
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;  // for an optimizer; same order as named_parameters()
  int64_t num_parameters() const;          // total element count of parameters()

  // ---- mode ----
  // Training mode (the default) or evaluation mode, set on this module and all descendants.
  // BatchNorm2d uses batch statistics and updates its running ones in training, and uses the
  // running ones in evaluation.
  Module& train(bool on = true);
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }

  // ---- placement ----
  // Moves every parameter (and its grad) and buffer to `device`, in place, except host buffers.
  Module& to(Device device);
  // Converts every floating-point parameter (and grad) and buffer to `dtype` (F32 or F64), in
  // place; integer buffers such as num_batches_tracked keep their dtype.
  Module& to(DType dtype);

  // ---- state ----
  // Parameters and buffers in PyTorch's state_dict order: for each module depth first, its own
  // parameters, then its own buffers, then its children. The tensors are the live ones (detached
  // aliases, not copies): clone them to keep a snapshot across training steps.
  NamedTensors state_dict() const;
  // Copies values from `state` into the parameters and buffers of the same names (converting
  // device and floating-point width; the storage of each tensor stays in place). Strict: every
  // name of state_dict() must be present with the same shape and a loadable dtype
  // (state_mismatch), and no other name may appear; otherwise an error lists every missing,
  // unexpected and mismatched entry, and nothing is changed.
  // Non-strict: the matching entries are loaded and the rest is reported in the result.
  LoadResult load_state_dict(const TensorMap& state, bool strict = true);

 protected:
  // Registration, normally from the constructor. Names must be non-empty, contain no '.', and
  // be unique among this module's parameters, buffers and children (error otherwise).
  // register_parameter marks `t` as requiring grad and returns it (the same tensor).
  Tensor register_parameter(const std::string& name, Tensor t);
  // A host buffer (host = true) is host-side bookkeeping, such as BatchNorm's step counter: it stays
  // on the CPU when the module moves, so updating it never synchronises with a GPU.
  Tensor register_buffer(const std::string& name, Tensor t, bool host = false);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    check_new_name(name);
    check(m != nullptr, type_name(), ": register_module(\"", name, "\") with a null module");
    children_.emplace_back(name, m);
    m->parent_ = this;
    m->name_in_parent_ = name;
    return m;
  }

  // Own (non-recursive) entries, for layers that need to reach them by position.
  const NamedTensors& own_parameters() const { return params_; }

  // Runs f() with its ops attributed to this module, as operator() does; for entry points other
  // than forward() (Conv2d::forward_bn, BatchNorm2d::forward_relu).
  template <class F>
  Tensor profiled(F&& f) {
    if (!profile::enabled()) [[likely]]
      return f();
    const profile::ModuleScope scope(path());
    return f();
  }
  const NamedTensors& own_buffers() const { return buffers_; }

 private:
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
  template <class F>
  void for_each_tensor(F&& f);  // f(tensor, is_param, is_host_buffer) over the whole tree

  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<bool> buffer_on_host_;  // parallel to buffers_
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  const Module* parent_ = nullptr;  // for path(): the module this one was registered in last
  std::string name_in_parent_;
  bool training_ = true;
};

// Why `given` cannot be loaded into `own`, or "" when it can: the shapes must be equal, and the
// dtypes both floating point (any widths: F16 weights load into an F32 model) or equal. An integer
// tensor never loads into a floating one or back: its bytes would be read as other numbers.
std::string state_mismatch(const Tensor& given, const Tensor& own);

// An ordered map for saving: state_dict() as a TensorMap (safetensors takes one).
TensorMap to_tensor_map(const NamedTensors& named);

}  // namespace wb::nn
