// Tensor: a strided view (shape, strides, offset in elements) on ref-counted Storage, plus the
// autograd slot (requires_grad, grad, the node that produced it). tensor/ knows only the name
// autograd::Node; the graph itself lives in autograd/.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace wb {

namespace autograd {
struct Node;
}
class Generator;
class Tensor;

// What autograd keeps per tensor. grad_fn is set on outputs of recorded ops; a tensor with
// requires_grad and no grad_fn is a leaf whose gradient accumulates into `grad`.
struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<Tensor> grad;  // pointer so that the struct can be complete here
  std::shared_ptr<autograd::Node> grad_fn;
  int output_nr = 0;
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves only; created on first use
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::F32;
  std::shared_ptr<AutogradMeta> autograd;  // null until autograd touches the tensor
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation ----
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  // A CPU tensor in page-locked memory when a CUDA device is available (fast copies to it),
  // in ordinary memory otherwise.
  static Tensor empty_pinned(const Shape& shape, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = Device::cpu());
  // Values in row-major order; they are converted to `dtype`.
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            Device device = Device::cpu());
  static Tensor arange(int64_t n, DType dtype = DType::F32, Device device = Device::cpu());
  // Seeded fills: the same generator state gives the same values on every device.
  static Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::F32,
                      Device device = Device::cpu(), double mean = 0.0, double stddev = 1.0);
  static Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::F32,
                     Device device = Device::cpu(), double lo = 0.0, double hi = 1.0);

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return numel_of(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_cuda() const { return device().is_cuda(); }
  bool is_pinned() const { return impl().storage->is_pinned(); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  std::string str() const;  // "[2, 3] f32 cpu", used in error messages
  bool same_storage(const Tensor& o) const { return storage() == o.storage(); }

  // Typed pointer to the first element of the view; checks the dtype.
  template <class T>
  T* data() const {
    check(dtype() == dtype_of<T>::value, "tensor ", str(), ": data<", dtype_name(dtype_of<T>::value),
          ">() on a tensor of dtype ", dtype_name(dtype()));
    return static_cast<T*>(impl().storage->data()) + impl().offset;
  }
  void* raw_data() const;

  // ---- views (share storage; not recorded by autograd: see autograd/ops for that) ----
  Tensor view(const Shape& shape) const;      // requires compatible strides; -1 infers one dim
  Tensor reshape(const Shape& shape) const;   // a view when possible, else a contiguous copy
  Tensor permute(const std::vector<int64_t>& order) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes the dimension
  Tensor expand(const Shape& shape) const;          // size-1 dims broadcast with stride 0
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;

  // ---- copies ----
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;       // always a new contiguous buffer
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(Device::cpu()); }
  void copy_(const Tensor& src);  // same shape (src may broadcast), any devices, converts dtype
  void fill_(double value);
  void zero_() { fill_(0.0); }

  // ---- host access (copies to the CPU when needed) ----
  double item() const;  // a one-element tensor's value
  std::vector<double> to_double_vector() const;
  std::vector<float> to_float_vector() const;

  // ---- autograd slot ----
  bool requires_grad() const;
  Tensor& set_requires_grad(bool r);
  Tensor grad() const;  // undefined when none has been accumulated
  void set_grad(const Tensor& g);
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  int output_nr() const;
  bool is_leaf() const { return grad_fn() == nullptr; }
  AutogradMeta& autograd_meta();  // creates the slot on first use
  Tensor detach() const;          // same storage and view, no autograd slot

  TensorImpl& impl() const {
    check(impl_ != nullptr, "tensor: use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// A view with explicit geometry on the storage of `base` (bounds are checked).
Tensor as_strided(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

}  // namespace wb
