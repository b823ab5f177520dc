// Per-channel passes over contiguous NCHW data viewed as [N, C, HW], shared by batch norm and
// PReLU: a per-channel reduction over (N, HW) and an elementwise map that knows each element's
// channel. Both walk the data in "units" of V floats (V = 4 when HW % 4 == 0 and every pointer is
// 16-byte aligned, so a unit never straddles two planes) and track their position with a cursor
// that is advanced by adds and one carry instead of a 64-bit division per element.
#pragma once
#include "kernels/cuda/launch.cuh"

namespace wb::kernels::cuda::detail {

struct ChannelGeom {
  int64_t n = 0, c = 0, hw = 0;  // images, channels, elements per plane
};

// Reduction, stage 1. Block (c, s) folds slice s of channel c's N * HW / V units into one Acc.
// Consecutive threads take consecutive units of a plane, so loads are coalesced; a channel is
// split into S slices when C alone gives too few blocks to fill the machine.
template <class Acc, int V, class Elem>
__global__ void channel_reduce_partial(Elem elem, int64_t C, int64_t hw_units, int64_t units, int64_t per_slice,
                                       Acc* __restrict__ partial) {
  const int64_t c = blockIdx.x, s = blockIdx.y;
  const int64_t end = min(units, (s + 1) * per_slice);
  Acc acc = Acc::identity();
  int64_t u = s * per_slice + threadIdx.x;
  if (u < end) {
    int64_t n = u / hw_units, j = u % hw_units;
    const int64_t dn = blockDim.x / hw_units, dj = blockDim.x % hw_units;
    for (; u < end; u += blockDim.x) {
      elem.template accumulate<V>(acc, ((n * C + c) * hw_units + j) * V, c);
      j += dj;
      n += dn;
      if (j >= hw_units) {
        j -= hw_units;
        ++n;
      }
    }
  }
  acc = block_reduce(acc);
  if (threadIdx.x == 0) partial[s * C + c] = acc;
}

// Reduction, stage 2: one thread per channel merges its S partials in slice order (deterministic)
// and hands the total to finish(c, total).
template <class Acc, class Finish>
__global__ void channel_reduce_finish(const Acc* __restrict__ partial, int64_t S, int64_t C, Finish finish) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    Acc a = partial[c];
    for (int64_t s = 1; s < S; ++s) a.merge(partial[s * C + c]);
    finish(c, a);
  }
}

// Folds elem over every element of each channel, then calls finish(c, total) once per channel.
// Elem: template <int V> __device__ void accumulate(Acc&, int64_t first_element, int64_t c).
// With an empty channel (N * HW == 0) finish receives Acc::identity().
template <class Acc, class Elem, class Finish>
void channel_reduce(const ChannelGeom& g, bool vec4, const Elem& elem, const Finish& finish, const Tensor& like) {
  static_assert(sizeof(Acc) % sizeof(float) == 0, "Acc is stored as floats");
  if (g.c == 0) return;
  const int device = like.device().index;
  const cudaStream_t stream = stream_of(like);
  const int V = vec4 ? 4 : 1;
  const int64_t hw_units = std::max<int64_t>(1, g.hw / V), units = g.n * g.hw / V;
  // Aim for a few blocks per SM overall, but give each block at least kMinUnits of work so the
  // partials stay few; S <= 1024 keeps stage 2 short and within gridDim.y.
  constexpr int64_t kMinUnits = 2048;
  const int64_t want = (4 * int64_t(sm_count(device)) + g.c - 1) / g.c;
  const int64_t S_cap = std::max<int64_t>(1, std::min<int64_t>(1024, (units + kMinUnits - 1) / kMinUnits));
  int64_t S = std::clamp<int64_t>(want, 1, S_cap);
  const int64_t per_slice = std::max<int64_t>(1, (units + S - 1) / S);
  S = std::max<int64_t>(1, (units + per_slice - 1) / per_slice);

  Tensor scratch = Tensor::empty({S * g.c * int64_t(sizeof(Acc) / sizeof(float))}, DType::F32, like.device());
  Acc* partial = reinterpret_cast<Acc*>(scratch.data<float>());
  const dim3 grid(static_cast<unsigned>(g.c), static_cast<unsigned>(S));
  if (vec4) {
    channel_reduce_partial<Acc, 4><<<grid, kThreads, 0, stream>>>(elem, g.c, hw_units, units, per_slice, partial);
  } else {
    channel_reduce_partial<Acc, 1><<<grid, kThreads, 0, stream>>>(elem, g.c, hw_units, units, per_slice, partial);
  }
  wb::cuda::check_launch("channel_reduce_partial");
  channel_reduce_finish<<<grid_for(g.c, kThreads, device), kThreads, 0, stream>>>(partial, S, g.c, finish);
  wb::cuda::check_launch("channel_reduce_finish");
}

// Map: a grid-stride loop over all units; op.apply<V>(first_element, c) handles V elements of
// channel c. The cursor (j within the plane, c) advances by the fixed grid stride.
template <int V, class Op>
__global__ void channel_map_kernel(Op op, int64_t C, int64_t hw_units, int64_t units) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t u = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (u >= units) return;
  int64_t j = u % hw_units, c = (u / hw_units) % C;
  const int64_t dj = stride % hw_units, dc = (stride / hw_units) % C;
  for (; u < units; u += stride) {
    op.template apply<V>(u * V, c);
    j += dj;
    c += dc;
    if (j >= hw_units) {
      j -= hw_units;
      ++c;
    }
    if (c >= C) c -= C;  // c < 2C here: both steps add less than C in total
  }
}

template <class Op>
void channel_map(const ChannelGeom& g, bool vec4, const Op& op, const Tensor& like) {
  const int V = vec4 ? 4 : 1;
  const int64_t units = g.n * g.c * g.hw / V;
  if (units == 0) return;
  const int64_t hw_units = g.hw / V;
  const unsigned blocks = grid_for(units, kThreads, like.device().index);
  if (vec4) {
    channel_map_kernel<4><<<blocks, kThreads, 0, stream_of(like)>>>(op, g.c, hw_units, units);
  } else {
    channel_map_kernel<1><<<blocks, kThreads, 0, stream_of(like)>>>(op, g.c, hw_units, units);
  }
  wb::cuda::check_launch("channel_map_kernel");
}

}  // namespace wb::kernels::cuda::detail
