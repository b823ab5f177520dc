#pragma once
#include <cstddef>
#include <memory>

#include "tensor/device.h"

namespace wb {

// A flat, ref-counted buffer on one device. Tensors are views on a Storage.
class Storage {
 public:
  // pinned: page-locked host memory (CPU storage only; needs CUDA at run time).
  Storage(size_t nbytes, Device device, bool pinned = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool is_pinned() const { return pinned_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool pinned_ = false;
};

}  // namespace wb
