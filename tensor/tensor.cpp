#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>

#include "tensor/cuda_runtime.h"
#include "tensor/generator.h"
#include "tensor/profile.h"

namespace wb {

namespace {

int64_t wrap_dim(int64_t d, int64_t ndim, const char* op) {
  const int64_t w = d < 0 ? d + ndim : d;
  check(w >= 0 && w < ndim, op, ": dimension ", d, " out of range for a ", ndim, "-d tensor");
  return w;
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

// Reads element i (any dtype) as double; writes likewise. Used by the generic CPU copy path.
double load_as_double(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F64: return static_cast<const double*>(p)[i];
    case DType::F16: return half_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bfloat16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::I32: return static_cast<const int32_t*>(p)[i];
    case DType::I64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DType::U8: return static_cast<const uint8_t*>(p)[i];
  }
  return 0;
}

void store_from_double(void* p, DType t, int64_t i, double v) {
  switch (t) {
    case DType::F32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DType::F64: static_cast<double*>(p)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(p)[i] = float_to_half(static_cast<float>(v)); break;
    case DType::BF16: static_cast<uint16_t*>(p)[i] = float_to_bfloat16(static_cast<float>(v)); break;
    case DType::I32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case DType::I64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
    case DType::U8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
  }
}

// Calls f(dst_offset, src_offset) for every index of `shape`, in row-major order.
template <class F>
void for_each_offset(const Shape& shape, const Shape& dst_strides, const Shape& src_strides, F&& f) {
  const int64_t n = numel_of(shape);
  if (n == 0) return;
  const size_t nd = shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t od = 0, os = 0;
  for (int64_t k = 0; k < n; ++k) {
    f(od, os);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < shape[d]) {
        od += dst_strides[d];
        os += src_strides[d];
        break;
      }
      od -= dst_strides[d] * (shape[d] - 1);
      os -= src_strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

void cpu_copy(const Tensor& dst, const Tensor& src) {
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    std::memcpy(dst.raw_data(), src.raw_data(), dst.numel() * dtype_size(dst.dtype()));
    return;
  }
  void* d = dst.raw_data();
  const void* s = src.raw_data();
  const DType dt = dst.dtype(), st = src.dtype();
  if (dt == st) {
    const size_t es = dtype_size(dt);
    const Shape& shape = dst.shape();
    // Rows contiguous on both sides (a narrow, a slice of channels): one memcpy per row. The profiler
    // showed the element-by-element copy at 5% of the bandwidth roof in ZoomNet's backward.
    if (!shape.empty() && shape.back() > 1 && dst.strides().back() == 1 && src.strides().back() == 1) {
      const Shape outer(shape.begin(), shape.end() - 1);
      const Shape od_strides(dst.strides().begin(), dst.strides().end() - 1);
      const Shape os_strides(src.strides().begin(), src.strides().end() - 1);
      const size_t row = static_cast<size_t>(shape.back()) * es;
      for_each_offset(outer, od_strides, os_strides, [&](int64_t od, int64_t os) {
        std::memcpy(static_cast<char*>(d) + od * es, static_cast<const char*>(s) + os * es, row);
      });
      return;
    }
    auto typed = [&](auto word) {
      using W = decltype(word);
      for_each_offset(shape, dst.strides(), src.strides(), [&](int64_t od, int64_t os) {
        static_cast<W*>(d)[od] = static_cast<const W*>(s)[os];
      });
    };
    if (es == 4) return typed(uint32_t{});
    if (es == 8) return typed(uint64_t{});
    for_each_offset(shape, dst.strides(), src.strides(), [&](int64_t od, int64_t os) {
      std::memcpy(static_cast<char*>(d) + od * es, static_cast<const char*>(s) + os * es, es);
    });
    return;
  }
  for_each_offset(dst.shape(), dst.strides(), src.strides(), [&](int64_t od, int64_t os) {
    store_from_double(d, dt, od, load_as_double(s, st, os));
  });
}

// Contiguous copy of a CUDA view, same dtype, on the same device.
Tensor cuda_contiguous(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device());
  if (t.numel() == 0) return out;
  cuda::strided_copy(out.raw_data(), t.raw_data(), dtype_size(t.dtype()), static_cast<int>(t.dim()),
                     t.shape().data(), t.strides().data(), t.numel(), t.device().index);
  return out;
}

// The bytes of a new tensor, refusing a count that wraps (2^62 floats would allocate 0 bytes).
size_t bytes_of(const Shape& shape, DType dtype) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(numel_of(shape)), dtype_size(dtype), &bytes))
    fail("tensor of shape ", shape_str(shape), " ", dtype_name(dtype), ": more bytes than memory can address");
  return bytes;
}

}  // namespace

// ---------------- creation ----------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) check(d >= 0, "Tensor::empty: negative size in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(bytes_of(shape, dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::empty_pinned(const Shape& shape, DType dtype) {
  for (int64_t d : shape) check(d >= 0, "Tensor::empty_pinned: negative size in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(bytes_of(shape, dtype), Device::cpu(), cuda::available());
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(0.0);
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype, Device device) {
  check(static_cast<int64_t>(values.size()) == numel_of(shape), "Tensor::from_vector: ", values.size(),
        " values for shape ", shape_str(shape));
  Tensor t = empty(shape, dtype, Device::cpu());
  for (size_t i = 0; i < values.size(); ++i) store_from_double(t.raw_data(), dtype, static_cast<int64_t>(i), values[i]);
  return device.is_cpu() ? t : t.to(device);
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  check(static_cast<int64_t>(values.size()) == numel_of(shape), "Tensor::from_vector: ", values.size(),
        " values for shape ", shape_str(shape));
  Tensor t = empty(shape, DType::F32, Device::cpu());
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(float));
  return device.is_cpu() ? t : t.to(device);
}

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<double>(i);
  return from_vector(v, {n}, dtype, device);
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, DType dtype, Device device, double mean, double stddev) {
  std::vector<double> v(static_cast<size_t>(numel_of(shape)));
  for (double& x : v) x = gen.normal(mean, stddev);
  return from_vector(v, shape, dtype, device);
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, DType dtype, Device device, double lo, double hi) {
  std::vector<double> v(static_cast<size_t>(numel_of(shape)));
  for (double& x : v) x = gen.uniform(lo, hi);
  return from_vector(v, shape, dtype, device);
}

// ---------------- metadata ----------------

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape().size(); i-- > 0;) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "[undefined]";
  std::ostringstream os;
  os << shape_str(shape()) << ' ' << dtype_name(dtype()) << ' ' << device().str();
  return os.str();
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * static_cast<int64_t>(dtype_size(dtype()));
}

// ---------------- views ----------------

Tensor as_strided(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  check(shape.size() == strides.size(), "as_strided: shape ", shape_str(shape), " and strides ",
        shape_str(strides), " differ in rank");
  int64_t max_off = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    check(shape[i] >= 0 && strides[i] >= 0, "as_strided: negative size or stride");
    if (shape[i] == 0) max_off = -1;
    if (max_off >= 0) max_off += (shape[i] - 1) * strides[i];
  }
  const int64_t capacity = static_cast<int64_t>(base.storage()->nbytes() / dtype_size(base.dtype()));
  check(offset >= 0 && max_off < capacity, "as_strided: view ", shape_str(shape), " at offset ", offset,
        " exceeds a storage of ", capacity, " elements");
  return make_view(base, shape, strides, offset);
}

Tensor Tensor::view(const Shape& new_shape_in) const {
  Shape new_shape = new_shape_in;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < new_shape.size(); ++i) {
    if (new_shape[i] == -1) {
      check(infer < 0, "view: more than one -1 in ", shape_str(new_shape_in));
      infer = static_cast<int64_t>(i);
    } else {
      known *= new_shape[i];
    }
  }
  if (infer >= 0) {
    check(known > 0 && numel() % known == 0, "view: cannot infer -1 in ", shape_str(new_shape_in), " for ", str());
    new_shape[static_cast<size_t>(infer)] = numel() / known;
  }
  check(numel_of(new_shape) == numel(), "view: shape ", shape_str(new_shape_in), " does not match ", str());
  // Walk both shapes, grouping dims of the old shape that are contiguous among themselves.
  Shape new_strides(new_shape.size());
  const Shape& os = shape();
  const Shape& ost = strides();
  int64_t oi = 0, ni = 0;
  const int64_t on = static_cast<int64_t>(os.size()), nn = static_cast<int64_t>(new_shape.size());
  while (ni < nn || oi < on) {
    // skip size-1 dims
    if (ni < nn && new_shape[ni] == 1) { new_strides[ni] = 1; ++ni; continue; }
    if (oi < on && os[oi] == 1) { ++oi; continue; }
    if (ni >= nn || oi >= on) break;
    // collect an old chunk [oi, oj) that is contiguous, and a new chunk of the same numel
    int64_t o_size = os[oi], oj = oi + 1;
    int64_t n_size = new_shape[ni], nj = ni + 1;
    while (o_size != n_size) {
      if (o_size < n_size) {
        check(oj < on, "view: shape ", shape_str(new_shape_in), " does not match ", str());
        if (os[oj] != 1)
          check(ost[oj - 1] == ost[oj] * os[oj] || os[oj - 1] == 1, "view: ", str(), " is not contiguous enough for shape ",
                shape_str(new_shape_in), "; use reshape()");
        o_size *= os[oj++];
      } else {
        check(nj < nn, "view: shape ", shape_str(new_shape_in), " does not match ", str());
        n_size *= new_shape[nj++];
      }
    }
    // the old chunk must be internally contiguous
    int64_t base_stride = 0;
    for (int64_t k = oj - 1; k >= oi; --k) {
      if (os[k] != 1) { base_stride = ost[k]; break; }
    }
    int64_t expect = base_stride;
    for (int64_t k = oj - 1; k >= oi; --k) {
      if (os[k] == 1) continue;
      check(ost[k] == expect, "view: ", str(), " is not contiguous enough for shape ", shape_str(new_shape_in),
            "; use reshape()");
      expect *= os[k];
    }
    int64_t acc = base_stride;
    for (int64_t k = nj - 1; k >= ni; --k) {
      new_strides[k] = new_shape[k] == 1 ? 1 : acc;
      acc *= new_shape[k];
    }
    oi = oj;
    ni = nj;
  }
  return make_view(*this, new_shape, new_strides, offset());
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  try {
    return view(new_shape);
  } catch (const Error&) {
    return contiguous().view(new_shape);
  }
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
  check(static_cast<int64_t>(order.size()) == dim(), "permute: order of length ", order.size(), " for ", str());
  Shape s(order.size()), st(order.size());
  std::vector<bool> seen(order.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t d = wrap_dim(order[i], dim(), "permute");
    check(!seen[d], "permute: dimension ", d, " repeated");
    seen[d] = true;
    s[i] = shape()[d];
    st[i] = strides()[d];
  }
  return make_view(*this, s, st, offset());
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int64_t> order(static_cast<size_t>(dim()));
  for (int64_t i = 0; i < dim(); ++i) order[i] = i;
  std::swap(order[wrap_dim(a, dim(), "transpose")], order[wrap_dim(b, dim(), "transpose")]);
  return permute(order);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  check(start >= 0 && length >= 0 && start + length <= shape()[d], "narrow: [", start, ", ", start + length,
        ") out of range for dimension ", d, " of ", str());
  Shape s = shape();
  s[d] = length;
  return make_view(*this, s, strides(), offset() + start * strides()[d]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  check(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] = strides()[d] * step;
  return make_view(*this, s, st, offset() + start * strides()[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  if (index < 0) index += shape()[d];
  check(index >= 0 && index < shape()[d], "select: index ", index, " out of range for dimension ", d, " of ", str());
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return make_view(*this, s, st, offset() + index * strides()[d]);
}

Tensor Tensor::expand(const Shape& target) const {
  check(static_cast<int64_t>(target.size()) >= dim(), "expand: ", str(), " to ", shape_str(target));
  const size_t lead = target.size() - shape().size();
  Shape st(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) continue;
    const int64_t s = shape()[i - lead];
    if (s == target[i]) {
      st[i] = strides()[i - lead];
    } else {
      check(s == 1, "expand: cannot broadcast ", str(), " to ", shape_str(target));
    }
  }
  return make_view(*this, target, st, offset());
}

Tensor Tensor::unsqueeze(int64_t d) const {
  if (d < 0) d += dim() + 1;
  check(d >= 0 && d <= dim(), "unsqueeze: dimension out of range for ", str());
  Shape s = shape(), st = strides();
  const int64_t stride_here = d < dim() ? strides()[d] * shape()[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride_here);
  return make_view(*this, s, st, offset());
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  check(shape()[d] == 1, "squeeze: dimension ", d, " of ", str(), " is not 1");
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return make_view(*this, s, st, offset());
}

// ---------------- copies ----------------

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  const profile::OpScope prof("contiguous", {this}, [&] { return profile::elementwise_cost({this}, *this, 0); });
  if (is_cuda()) return cuda_contiguous(*this);
  Tensor out = empty(shape(), dtype(), device());
  cpu_copy(out, *this);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  Tensor out = empty(shape(), dtype(), d);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType t) const {
  if (dtype() == t) return *this;
  Tensor out = empty(shape(), t, device());
  out.copy_(*this);
  return out;
}

void Tensor::copy_(const Tensor& src_in) {
  const profile::OpScope prof("copy", {&src_in}, [&] { return profile::elementwise_cost({this}, *this, 0); });
  Tensor src = src_in.shape() == shape() ? src_in : src_in.expand(shape());
  if (numel() == 0) return;
  if (!is_cuda() && !src.is_cuda()) {
    cpu_copy(*this, src);
    return;
  }
  // Any CUDA side: convert dtype on the host (rare, off the hot path), move contiguous bytes.
  if (src.dtype() != dtype()) src = src.cpu().to(dtype());
  src = src.contiguous();
  check(is_contiguous(), "copy_: a non-contiguous CUDA destination ", str(), " is not supported");
  const size_t bytes = numel() * dtype_size(dtype());
  if (is_cuda() && src.is_cuda()) {
    check(device() == src.device(), "copy_: across CUDA devices ", src.str(), " -> ", str());
    cuda::copy_device_to_device(raw_data(), src.raw_data(), bytes, device().index);
  } else if (is_cuda()) {
    cuda::copy_host_to_device(raw_data(), src.raw_data(), bytes, device().index);
  } else {
    cuda::copy_device_to_host(raw_data(), src.raw_data(), bytes, src.device().index);
  }
}

void Tensor::fill_(double value) {
  if (numel() == 0) return;
  const profile::OpScope prof("fill", {this}, [&] { return profile::elementwise_cost({}, *this, 0); });
  if (is_cuda()) {
    if (value == 0.0 && is_contiguous()) {
      cuda::fill_zero(raw_data(), numel() * dtype_size(dtype()), device().index);
      return;
    }
    copy_(full({1}, value, dtype(), Device::cpu()).expand(shape()));
    return;
  }
  void* d = raw_data();
  const DType t = dtype();
  // Contiguous fills, the common case (zeros() for gradients and every batch's heatmap targets): a
  // memset or a typed fill, not a conversion per element (perf: 6% of a small model's training, in
  // the loader threads).
  if (is_contiguous()) {
    const auto n = static_cast<size_t>(numel());
    if (value == 0.0 && !std::signbit(value)) {
      std::memset(d, 0, n * dtype_size(t));
      return;
    }
    if (t == DType::F32) {
      std::fill_n(static_cast<float*>(d), n, static_cast<float>(value));
      return;
    }
    if (t == DType::F64) {
      std::fill_n(static_cast<double*>(d), n, value);
      return;
    }
  }
  const Shape zero(shape().size(), 0);
  for_each_offset(shape(), strides(), zero, [&](int64_t od, int64_t) { store_from_double(d, t, od, value); });
}

double Tensor::item() const {
  check(numel() == 1, "item: tensor ", str(), " has ", numel(), " elements, not 1");
  Tensor c = cpu();
  return load_as_double(c.raw_data(), c.dtype(), 0);
}

std::vector<double> Tensor::to_double_vector() const {
  Tensor c = cpu().to(DType::F64).contiguous();
  const double* p = c.data<double>();
  return std::vector<double>(p, p + c.numel());
}

std::vector<float> Tensor::to_float_vector() const {
  Tensor c = cpu().to(DType::F32).contiguous();
  const float* p = c.data<float>();
  return std::vector<float>(p, p + c.numel());
}

// ---------------- autograd slot ----------------

bool Tensor::requires_grad() const { return impl().autograd && impl().autograd->requires_grad; }

Tensor& Tensor::set_requires_grad(bool r) {
  if (r) check(is_floating(dtype()), "set_requires_grad: tensor ", str(), " is not floating point");
  if (r || impl().autograd) autograd_meta().requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const {
  if (!impl().autograd || !impl().autograd->grad) return Tensor();
  return *impl().autograd->grad;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined()) check(g.shape() == shape(), "set_grad: gradient ", g.str(), " for tensor ", str());
  autograd_meta().grad = g.defined() ? std::make_shared<Tensor>(g) : nullptr;
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<autograd::Node> none;
  return impl().autograd ? impl().autograd->grad_fn : none;
}

int Tensor::output_nr() const { return impl().autograd ? impl().autograd->output_nr : 0; }

AutogradMeta& Tensor::autograd_meta() {
  if (!impl().autograd) impl().autograd = std::make_shared<AutogradMeta>();
  return *impl().autograd;
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

}  // namespace wb
