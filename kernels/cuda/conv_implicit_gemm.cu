// Convolution family, CUDA: tensor-core implicit GEMM for dense and grouped 2-D convolutions,
// NCHW f32, TF32 multiplies with f32 accumulation (nvcuda::wmma 16x16x8 fragments).
//
// The three passes as GEMMs, one independent GEMM per group (grid.z):
//   forward          M = N*OH*OW pixels, N = Cout/g, K = taps x Cin/g.  A gathered from x, B = w.
//   backward-data    M = N*H*W pixels,   N = Cin/g,  K = taps x Cout/g. A gathered from dy, B = w.
//   backward-weight  M = Cout/g, N = Cin/g*KH*KW, K = N*OH*OW pixels.   A = dy, B gathered from x.
//
// Forward and backward-data share one kernel (gather_gemm_kernel). Its reduction runs tap by tap
// and, within a tap, over channel chunks of kBK: for a fixed tap a thread's pixel reads one source
// position, so the bounds test and address are computed once per stage instead of once per
// element, and consecutive threads (consecutive pixels) read consecutive addresses. The weight is
// first packed (pack_weight_kernel) into [g][tap][k-channel][n-channel] rows, already rounded to
// TF32, so B tiles load with 16-byte cp.async. Backward-data with stride s > 1 is split into s*s
// phases by input position modulo s: inside one phase only the taps with a matching residue
// contribute and the gather becomes a stride-1 correlation on dy, so no multiply is wasted on the
// zeros a "dilate dy by s" formulation would carry. A phase with no matching tap writes zeros.
//
// Backward-weight (weight_grad_kernel) reduces over every pixel of the batch, a long K with a
// small M x N, so it splits K across blocks. Each split writes its partial tile to a workspace and
// a second kernel sums the splits in a fixed order: deterministic results (bit-identical from run
// to run, which atomics would not give) at the price of one extra pass over splits x |dw| floats,
// which the choice of split count keeps small.
//
// All kernels: 3-stage cp.async pipelines (zero-fill for padding, image borders and ragged tile
// edges, so shared memory never holds stale data), padded shared rows (bank-conflict-free fragment
// loads), and an epilogue staged through shared memory so global stores are coalesced.
// Sizes of one pass are int (checked on the host); offsets into whole tensors are int64.
#include <mma.h>

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "kernels/cuda/conv_internal.h"
#include "kernels/cuda/launch.cuh"
#include "tensor/cuda/check.h"

namespace wb::kernels::cuda::detail {

namespace {

namespace wmma = nvcuda::wmma;

constexpr int kBK = 16;     // reduction depth of one pipeline stage (two 8-deep MMA steps)
constexpr int kStages = 3;  // cp.async pipeline depth
constexpr int kPad = 4;     // floats of padding per shared row: rows stay 16-byte aligned and the
                            // 8x4 thread pattern of a TF32 fragment load hits 32 distinct banks
constexpr int kSmemLimit = 48 * 1024;  // static shared memory limit (no opt-in needed)

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void check_int_range(int64_t v, const char* what, const char* op, const Tensor& t) {
  check(v >= 0 && v <= INT32_MAX, op, ": ", what, " of ", t.str(), " exceeds the int range of the CUDA kernel");
}

int to_int(int64_t v, const char* what, const char* op, const Tensor& t) {
  check_int_range(v, what, op, t);
  return static_cast<int>(v);
}

// ---- cp.async (sm_80+): global -> shared without a register round trip ----
// With `valid` false the copy reads nothing and fills the destination with zeros; the source must
// still be some valid address, the callers pass the tensor's base pointer.
__device__ __forceinline__ void cp_async4(float* smem, const float* gmem, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(gmem), "r"(valid ? 4 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async16(float* smem, const float* gmem, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem), "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

template <class Frag>
__device__ __forceinline__ void round_to_tf32(Frag& f) {
#pragma unroll
  for (int e = 0; e < f.num_elements; ++e) f.x[e] = wmma::__float_to_tf32(f.x[e]);
}

// ---- weight packing ----
// w [G*cout_g, cin_g, T] -> wt [G][T][k_ch][n_pad] (zeros in columns n_ch..n_pad), TF32-rounded.
// Forward reduces over input channels (k = ci, n = co); backward-data over output channels
// (k = co, n = ci). n_pad = n_ch rounded up to 4 makes every row 16-byte aligned.
__global__ void pack_weight_kernel(const float* __restrict__ w, float* __restrict__ wt, int cout_g, int cin_g, int taps,
                                   bool k_is_cin, int n_pad, int total) {
  const int k_ch = k_is_cin ? cin_g : cout_g;
  const int n_ch = k_is_cin ? cout_g : cin_g;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const int i = static_cast<int>(idx);  // total fits int: the divisions below stay 32-bit
    const int n = i % n_pad;
    int r = i / n_pad;
    const int k = r % k_ch;
    r /= k_ch;
    const int t = r % taps;
    const int g = r / taps;
    float v = 0.f;
    if (n < n_ch) {
      const int co = k_is_cin ? n : k, ci = k_is_cin ? k : n;
      v = wmma::__float_to_tf32(w[((int64_t(g) * cout_g + co) * cin_g + ci) * taps + t]);
    }
    wt[i] = v;
  }
}

// ---- forward and backward-data: the gather GEMM ----

// The taps along one spatial axis that feed an output pixel: tap j uses weight index
// k0 + j*kstep and reads source coordinate q*src_stride + off0 + j*offstep.
struct TapAxis {
  int count = 0, k0 = 0, kstep = 1, off0 = 0, offstep = 0;
};

struct GatherGemm {
  const float* src;   // [batch, src_c, src_h, src_w], the A operand
  const float* wt;    // packed weight, the B operand
  const float* bias;  // [groups * n_ch] or null
  float* dst;         // [batch, dst_c, dst_h, dst_w]
  int batch, src_c, src_h, src_w, dst_c, dst_h, dst_w;
  int k_ch, n_ch, n_pad;  // reduction / output channels per group; packed row length
  int kw, taps;           // weight width (tap index = kh*kw + kw) and kh*kw
  int q_h, q_w;           // the pixel grid the GEMM's M runs over
  int src_stride_h, src_stride_w;
  int dst_stride_h, dst_stride_w, dst_off_h, dst_off_w;  // dst coordinate = q*dst_stride + dst_off
  TapAxis th, tw;
};

// Block tile BM pixels x BN channels, WARPS_M x WARPS_N warps each owning a (BM/WARPS_M) x
// (BN/WARPS_N) sub-tile of 16x16 accumulators. A thread loads the A operand for one fixed pixel
// (tid % BM) at every stage, so its pixel decomposition is done once; warps cover 32 consecutive
// pixels, which are consecutive addresses for stride-1 sources. Shared layouts: A [kBK][BM]
// (col-major A), B [kBK][BN] (row-major B), the epilogue's C [BN][BM] so that a warp stores 32
// consecutive pixels of one channel.
template <int BM, int BN, int WARPS_M, int WARPS_N>
__global__ void __launch_bounds__(WARPS_M* WARPS_N * 32) gather_gemm_kernel(const GatherGemm p) {
  constexpr int kThreadsPerBlock = WARPS_M * WARPS_N * 32;
  constexpr int LDA = BM + kPad, LDB = BN + kPad, LDC = BM + kPad;
  constexpr int WTM = BM / WARPS_M, WTN = BN / WARPS_N, FM = WTM / 16, FN = WTN / 16;
  constexpr int A_STAGE = kBK * LDA, B_STAGE = kBK * LDB;
  constexpr int PIPE = kStages * (A_STAGE + B_STAGE);
  constexpr int SMEM = PIPE > BN * LDC ? PIPE : BN * LDC;
  constexpr int A_ROW_STEP = kThreadsPerBlock / BM;  // k rows one pass of the block loads
  constexpr int B_VECS = kBK * BN / 4;
  static_assert(WTM % 16 == 0 && WTN % 16 == 0, "warp tiles are whole 16x16 fragments");
  static_assert(kThreadsPerBlock % BM == 0 && kBK % A_ROW_STEP == 0, "A loader covers the tile exactly");
  static_assert(A_STAGE % 8 == 0 && B_STAGE % 8 == 0, "fragment pointers must stay 32-byte aligned");
  static_assert(SMEM * 4 <= kSmemLimit, "tile exceeds static shared memory");

  __shared__ __align__(128) float smem[SMEM];
  float* const As = smem;
  float* const Bs = smem + kStages * A_STAGE;
  float* const Cs = smem;  // reused once the pipeline has drained

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int wm = warp % WARPS_M, wn = warp / WARPS_M;
  const int g = blockIdx.z;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int qhw = p.q_h * p.q_w;
  const int M = p.batch * qhw;
  const int64_t src_hw = int64_t(p.src_h) * p.src_w;

  // This thread's pixel, shared by the A loader and the epilogue.
  const int t_m = tid % BM;
  const int t_row = tid / BM;
  const int m = m0 + t_m;
  const bool m_ok = m < M;
  int img = 0, qh = 0, qw = 0;
  if (m_ok) {
    img = m / qhw;
    const int r = m - img * qhw;
    qh = r / p.q_w;
    qw = r - qh * p.q_w;
  }
  const float* const a_img = p.src + (int64_t(img) * p.src_c + int64_t(g) * p.k_ch) * src_hw;
  const int ih_base = qh * p.src_stride_h, iw_base = qw * p.src_stride_w;

  const int nchunks = (p.k_ch + kBK - 1) / kBK;
  const int ktiles = p.th.count * p.tw.count * nchunks;
  const float* const wt_g = p.wt + int64_t(g) * p.taps * p.k_ch * p.n_pad;

  auto load_stage = [&](int kt, int stage) {
    const int tap = kt / nchunks;
    const int c0 = (kt - tap * nchunks) * kBK;
    const int jh = tap / p.tw.count, jw = tap - jh * p.tw.count;

    const int ih = ih_base + p.th.off0 + jh * p.th.offstep;
    const int iw = iw_base + p.tw.off0 + jw * p.tw.offstep;
    const bool pix_ok = m_ok && ih >= 0 && ih < p.src_h && iw >= 0 && iw < p.src_w;
    const float* const a_src = pix_ok ? a_img + (c0 + t_row) * src_hw + int64_t(ih) * p.src_w + iw : p.src;
    float* const a_dst = As + stage * A_STAGE + t_row * LDA + t_m;
#pragma unroll
    for (int j = 0; j < kBK / A_ROW_STEP; ++j) {
      const bool ok = pix_ok && c0 + t_row + j * A_ROW_STEP < p.k_ch;
      cp_async4(a_dst + j * A_ROW_STEP * LDA, ok ? a_src + j * A_ROW_STEP * src_hw : p.src, ok);
    }

    const int widx = (p.th.k0 + jh * p.th.kstep) * p.kw + p.tw.k0 + jw * p.tw.kstep;
    const float* const b_tap = wt_g + int64_t(widx) * p.k_ch * p.n_pad;
#pragma unroll
    for (int j = 0; j < (B_VECS + kThreadsPerBlock - 1) / kThreadsPerBlock; ++j) {
      const int v = tid + j * kThreadsPerBlock;
      if (v < B_VECS) {
        const int row = v / (BN / 4), col = (v % (BN / 4)) * 4;
        const int c = c0 + row, n = n0 + col;
        const bool ok = c < p.k_ch && n < p.n_pad;  // n_pad % 4 == 0: a vector is all in or all out
        cp_async16(Bs + stage * B_STAGE + row * LDB + col, ok ? b_tap + int64_t(c) * p.n_pad + n : p.wt, ok);
      }
    }
  };

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    // Stage kt has landed for every thread; every warp is done with the buffer refilled below.
    cp_async_wait<kStages - 2>();
    __syncthreads();
    if (kt + kStages - 1 < ktiles) load_stage(kt + kStages - 1, (kt + kStages - 1) % kStages);
    cp_async_commit();

    const float* const a = As + (kt % kStages) * A_STAGE;
    const float* const b = Bs + (kt % kStages) * B_STAGE;
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> af[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> bf[FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) {
        wmma::load_matrix_sync(af[i], a + kk * LDA + wm * WTM + i * 16, LDA);
        round_to_tf32(af[i]);
      }
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(bf[j], b + kk * LDB + wn * WTN + j * 16, LDB);
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();

#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j)
      wmma::store_matrix_sync(Cs + (wn * WTN + j * 16) * LDC + wm * WTM + i * 16, acc[i][j], LDC,
                              wmma::mem_col_major);
  __syncthreads();

  if (!m_ok) return;
  const int64_t dst_hw = int64_t(p.dst_h) * p.dst_w;
  const int oh = qh * p.dst_stride_h + p.dst_off_h, ow = qw * p.dst_stride_w + p.dst_off_w;
  float* const d = p.dst + (int64_t(img) * p.dst_c + int64_t(g) * p.n_ch) * dst_hw + int64_t(oh) * p.dst_w + ow;
  const float* const bias = p.bias ? p.bias + int64_t(g) * p.n_ch : nullptr;
  for (int c = t_row; c < BN && n0 + c < p.n_ch; c += A_ROW_STEP) {
    const int n = n0 + c;
    d[n * dst_hw] = Cs[c * LDC + t_m] + (bias ? bias[n] : 0.f);
  }
}

template <int BM, int BN, int WARPS_M, int WARPS_N>
void launch_gather(const GatherGemm& p, int groups, cudaStream_t stream) {
  const int64_t m = int64_t(p.batch) * p.q_h * p.q_w;
  const dim3 grid(static_cast<unsigned>(ceil_div(m, BM)), static_cast<unsigned>(ceil_div(p.n_ch, BN)),
                  static_cast<unsigned>(groups));
  gather_gemm_kernel<BM, BN, WARPS_M, WARPS_N><<<grid, WARPS_M * WARPS_N * 32, 0, stream>>>(p);
  wb::cuda::check_launch("gather_gemm_kernel (implicit-GEMM conv)");
}

// Tiles are tried largest first (more reuse of each loaded element); a smaller tile is taken when
// the larger would leave the GPU with fewer than two blocks per SM. Narrow problems (<= 32
// output channels per group, HRNet-W32's first branch) use 32-wide tiles so no MMA is wasted.
void run_gather(const GatherGemm& p, int groups, int device) {
  const int64_t m = int64_t(p.batch) * p.q_h * p.q_w;
  if (m == 0 || p.n_ch == 0) return;
  const int64_t want = 2 * int64_t(sm_count(device));
  auto blocks = [&](int bm, int bn) { return ceil_div(m, bm) * ceil_div(p.n_ch, bn) * groups; };
  const cudaStream_t stream = wb::cuda::current_stream(device);
  if (p.n_ch <= 32) {
    if (blocks(128, 32) >= want) return launch_gather<128, 32, 4, 1>(p, groups, stream);
    return launch_gather<64, 32, 2, 2>(p, groups, stream);
  }
  if (blocks(128, 64) >= want) return launch_gather<128, 64, 4, 2>(p, groups, stream);
  if (blocks(64, 64) >= want) return launch_gather<64, 64, 2, 2>(p, groups, stream);
  launch_gather<64, 32, 2, 2>(p, groups, stream);
}

// Packs w for a gather GEMM and fills in the weight fields of `p`. The packed tensor must outlive
// the launch only in stream order, which the caching allocator guarantees.
Tensor pack_weight(const Tensor& w, int groups, bool k_is_cin, GatherGemm& p) {
  const int cout_g = static_cast<int>(w.size(0) / groups), cin_g = static_cast<int>(w.size(1));
  const int kh = static_cast<int>(w.size(2)), kw = static_cast<int>(w.size(3));
  p.k_ch = k_is_cin ? cin_g : cout_g;
  p.n_ch = k_is_cin ? cout_g : cin_g;
  p.n_pad = (p.n_ch + 3) / 4 * 4;
  p.kw = kw;
  p.taps = kh * kw;
  const int64_t total = int64_t(groups) * p.taps * p.k_ch * p.n_pad;
  check_int_range(total, "packed size", "conv2d (implicit GEMM)", w);
  Tensor wt = Tensor::empty({total}, DType::F32, w.device());
  if (total > 0) {
    const int device = w.device().index;
    pack_weight_kernel<<<grid_for(total, 256, device), 256, 0, wb::cuda::current_stream(device)>>>(
        w.data<float>(), wt.data<float>(), cout_g, cin_g, p.taps, k_is_cin, p.n_pad, static_cast<int>(total));
    wb::cuda::check_launch("pack_weight_kernel (implicit-GEMM conv)");
  }
  p.wt = wt.data<float>();
  return wt;
}

// Shape checks shared by the entry points: x [N, Cin, H, W], w [Cout, Cin/g, KH, KW],
// y [N, Cout, OH, OW]. Spatial sizes are taken as given: backward-data also serves transposed
// convolutions, whose output_padding makes dx larger than the inverse of the output-size rule.
void check_shapes(const char* op, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p) {
  check(x.dim() == 4 && w.dim() == 4 && y.dim() == 4 && p.groups > 0 && x.size(0) == y.size(0) &&
            x.size(1) == w.size(1) * p.groups && w.size(0) == y.size(1) && w.size(0) % p.groups == 0,
        op, ": inconsistent shapes x ", x.str(), ", w ", w.str(), ", y ", y.str(), " for groups ", p.groups);
  check(p.groups <= 65535, op, ": groups ", p.groups, " exceeds the CUDA grid limit (x ", x.str(), ")");
  for (const Tensor* t : {&x, &w, &y}) {
    check(t->dtype() == DType::F32 && t->is_cuda() && t->is_contiguous(), op, ": ", t->str(),
          " must be a contiguous f32 CUDA tensor");
  }
}

// ---- backward-weight: split-K GEMM over the pixels ----

struct WeightGradGemm {
  const float* dy;  // [batch, cout, oh, ow], the A operand
  const float* x;   // [batch, cin, h, w], gathered as the B operand
  float* out;       // [splits][cout * cin_g * kh * kw]: partial sums, or dw itself for one split
  int batch, cin, h, w, cout, oh, ow;
  int groups, cout_g, cin_g, kh, kw;
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  int ktiles_per_split;
};

// Block tile BM output channels x BN (input channel, tap) columns, K = pixels in steps of kBK.
// A thread loads one fixed pixel column (tid % kBK) of a stage for every row it owns, so it
// decomposes the pixel once per stage; the column geometry (channel, tap offsets) is tabulated
// in shared memory once per block. Shared layouts: A [BM][kBK] (row-major A), B [BN][kBK]
// (col-major B), C [BM][BN] so that the store runs along dw's contiguous (ci, kh, kw) axis.
template <int BM, int BN, int WARPS_M, int WARPS_N>
__global__ void __launch_bounds__(WARPS_M* WARPS_N * 32) weight_grad_kernel(const WeightGradGemm p) {
  constexpr int kThreadsPerBlock = WARPS_M * WARPS_N * 32;
  constexpr int LDK = kBK + kPad, LDC = BN + kPad;
  constexpr int WTM = BM / WARPS_M, WTN = BN / WARPS_N, FM = WTM / 16, FN = WTN / 16;
  constexpr int A_STAGE = BM * LDK, B_STAGE = BN * LDK;
  constexpr int PIPE = kStages * (A_STAGE + B_STAGE);
  constexpr int SMEM = PIPE > BM * LDC ? PIPE : BM * LDC;
  constexpr int ROW_STEP = kThreadsPerBlock / kBK;
  static_assert(WTM % 16 == 0 && WTN % 16 == 0, "warp tiles are whole 16x16 fragments");
  static_assert(kThreadsPerBlock % kBK == 0, "loader covers whole pixel columns");
  static_assert(A_STAGE % 8 == 0 && B_STAGE % 8 == 0, "fragment pointers must stay 32-byte aligned");
  static_assert(SMEM * 4 + 3 * BN * 4 <= kSmemLimit, "tile exceeds static shared memory");

  __shared__ __align__(128) float smem[SMEM];
  __shared__ int col_ch[BN], col_dh[BN], col_dw[BN];  // col_ch < 0: column beyond cin_g*kh*kw
  float* const As = smem;
  float* const Bs = smem + kStages * A_STAGE;
  float* const Cs = smem;

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int wm = warp % WARPS_M, wn = warp / WARPS_M;
  const int g = blockIdx.z % p.groups, split = blockIdx.z / p.groups;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int taps = p.kh * p.kw;
  const int ncols = p.cin_g * taps;
  const int ohw = p.oh * p.ow;
  const int pixels = p.batch * ohw;
  const int64_t hw = int64_t(p.h) * p.w;

  for (int c = tid; c < BN; c += kThreadsPerBlock) {
    const int j = n0 + c;
    if (j < ncols) {
      const int ci = j / taps, t = j - ci * taps;
      const int r = t / p.kw, s = t - r * p.kw;
      col_ch[c] = ci;
      col_dh[c] = r * p.dil_h - p.pad_h;
      col_dw[c] = s * p.dil_w - p.pad_w;
    } else {
      col_ch[c] = -1;
      col_dh[c] = col_dw[c] = 0;
    }
  }
  __syncthreads();

  const int kt_begin = split * p.ktiles_per_split;
  const int kt_end = min(kt_begin + p.ktiles_per_split, (pixels + kBK - 1) / kBK);
  const int t_k = tid % kBK, t_row = tid / kBK;
  const float* const dy_g = p.dy + int64_t(g) * p.cout_g * ohw;
  const float* const x_g = p.x + int64_t(g) * p.cin_g * hw;

  auto load_stage = [&](int kt, int stage) {
    const int pix = kt * kBK + t_k;
    const bool pix_ok = pix < pixels;
    int img = 0, r = 0, oy = 0, ox = 0;
    if (pix_ok) {
      img = pix / ohw;
      r = pix - img * ohw;
      oy = r / p.ow;
      ox = r - oy * p.ow;
    }
    const float* const dy_pix = dy_g + int64_t(img) * p.cout * ohw + r;
    for (int row = t_row; row < BM; row += ROW_STEP) {
      const int co = m0 + row;
      const bool ok = pix_ok && co < p.cout_g;
      cp_async4(As + stage * A_STAGE + row * LDK + t_k, ok ? dy_pix + int64_t(co) * ohw : p.dy, ok);
    }
    const float* const x_img = x_g + int64_t(img) * p.cin * hw;
    const int iy0 = oy * p.stride_h, ix0 = ox * p.stride_w;
    for (int c = t_row; c < BN; c += ROW_STEP) {
      const int ci = col_ch[c];
      const int iy = iy0 + col_dh[c], ix = ix0 + col_dw[c];
      const bool ok = pix_ok && ci >= 0 && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
      cp_async4(Bs + stage * B_STAGE + c * LDK + t_k, ok ? x_img + ci * hw + int64_t(iy) * p.w + ix : p.x, ok);
    }
  };

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  const int nk = kt_end - kt_begin;
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < nk) load_stage(kt_begin + s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < nk; ++kt) {
    cp_async_wait<kStages - 2>();
    __syncthreads();
    if (kt + kStages - 1 < nk) load_stage(kt_begin + kt + kStages - 1, (kt + kStages - 1) % kStages);
    cp_async_commit();

    const float* const a = As + (kt % kStages) * A_STAGE;
    const float* const b = Bs + (kt % kStages) * B_STAGE;
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> af[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> bf[FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) {
        wmma::load_matrix_sync(af[i], a + (wm * WTM + i * 16) * LDK + kk, LDK);
        round_to_tf32(af[i]);
      }
#pragma unroll
      for (int j = 0; j < FN; ++j) {
        wmma::load_matrix_sync(bf[j], b + (wn * WTN + j * 16) * LDK + kk, LDK);
        round_to_tf32(bf[j]);
      }
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();

#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j)
      wmma::store_matrix_sync(Cs + (wm * WTM + i * 16) * LDC + wn * WTN + j * 16, acc[i][j], LDC,
                              wmma::mem_row_major);
  __syncthreads();

  float* const out = p.out + int64_t(split) * p.cout * ncols + int64_t(g) * p.cout_g * ncols;
  for (int e = tid; e < BM * BN; e += kThreadsPerBlock) {
    const int row = e / BN, c = e % BN;
    const int co = m0 + row, j = n0 + c;
    if (co < p.cout_g && j < ncols) out[int64_t(co) * ncols + j] = Cs[row * LDC + c];
  }
}

// dw[i] = sum of the splits' partials, always in split order (deterministic).
__global__ void sum_splits_kernel(const float* __restrict__ parts, float* __restrict__ dw, int splits, int64_t numel) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < numel; i += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.f;
    for (int k = 0; k < splits; ++k) s += parts[k * numel + i];
    dw[i] = s;
  }
}

template <int BM, int BN, int WARPS_M, int WARPS_N>
void run_weight_grad(WeightGradGemm p, Tensor& dw, int device) {
  const int64_t ncols = int64_t(p.cin_g) * p.kh * p.kw;
  const int64_t ktiles = ceil_div(int64_t(p.batch) * p.oh * p.ow, kBK);
  const int64_t tiles = ceil_div(ncols, BN) * ceil_div(p.cout_g, BM) * p.groups;
  // Enough blocks for three per SM, but each split keeps at least kMinKTiles stages of work so
  // the pipeline runs long enough to hide its fill, and the workspace stays a few |dw|.
  constexpr int64_t kMinKTiles = 32, kMaxSplits = 256;
  const int64_t want = ceil_div(3 * int64_t(sm_count(device)), tiles);
  const int64_t max_splits = std::min<int64_t>({kMaxSplits, std::max<int64_t>(1, ktiles / kMinKTiles), 65535 / p.groups});
  int64_t splits = std::clamp<int64_t>(want, 1, max_splits);
  p.ktiles_per_split = static_cast<int>(ceil_div(ktiles, splits));
  splits = ceil_div(ktiles, p.ktiles_per_split);

  const cudaStream_t stream = wb::cuda::current_stream(device);
  Tensor parts;
  if (splits > 1) {
    parts = Tensor::empty({splits * dw.numel()}, DType::F32, dw.device());
    p.out = parts.data<float>();
  } else {
    p.out = dw.data<float>();
  }
  const dim3 grid(static_cast<unsigned>(ceil_div(ncols, BN)), static_cast<unsigned>(ceil_div(p.cout_g, BM)),
                  static_cast<unsigned>(splits * p.groups));
  weight_grad_kernel<BM, BN, WARPS_M, WARPS_N><<<grid, WARPS_M * WARPS_N * 32, 0, stream>>>(p);
  wb::cuda::check_launch("weight_grad_kernel (implicit-GEMM conv)");
  if (splits > 1) {
    sum_splits_kernel<<<grid_for(dw.numel(), 256, device), 256, 0, stream>>>(parts.data<float>(), dw.data<float>(),
                                                                            static_cast<int>(splits), dw.numel());
    wb::cuda::check_launch("sum_splits_kernel (implicit-GEMM conv)");
  }
}

}  // namespace

void implicit_gemm_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  constexpr const char* op = "conv2d forward (implicit GEMM)";
  check_shapes(op, x, w, y, p);
  check(!bias.defined() || (bias.numel() == w.size(0) && bias.dtype() == DType::F32 && bias.is_contiguous()), op,
        ": bias ", bias.defined() ? bias.str() : "", " does not fit weight ", w.str());
  if (y.numel() == 0) return;
  const int groups = static_cast<int>(p.groups);

  GatherGemm g{};
  Tensor wt = pack_weight(w, groups, /*k_is_cin=*/true, g);
  g.src = x.data<float>();
  g.bias = bias.defined() ? bias.data<float>() : nullptr;
  g.dst = y.data<float>();
  g.batch = to_int(x.size(0), "batch", op, x);
  g.src_c = to_int(x.size(1), "channels", op, x);
  g.src_h = to_int(x.size(2), "height", op, x);
  g.src_w = to_int(x.size(3), "width", op, x);
  g.dst_c = to_int(y.size(1), "channels", op, y);
  g.dst_h = g.q_h = to_int(y.size(2), "height", op, y);
  g.dst_w = g.q_w = to_int(y.size(3), "width", op, y);
  check_int_range(y.size(0) * y.size(2) * y.size(3), "pixel count", op, y);
  g.src_stride_h = static_cast<int>(p.stride[0]);
  g.src_stride_w = static_cast<int>(p.stride[1]);
  g.dst_stride_h = g.dst_stride_w = 1;
  g.dst_off_h = g.dst_off_w = 0;
  // Output (oh, ow) reads input (oh*s - p + kh*d, ow*s - p + kw*d).
  g.th = {static_cast<int>(w.size(2)), 0, 1, static_cast<int>(-p.padding[0]), static_cast<int>(p.dilation[0])};
  g.tw = {static_cast<int>(w.size(3)), 0, 1, static_cast<int>(-p.padding[1]), static_cast<int>(p.dilation[1])};
  if (x.numel() == 0) g.th.count = 0;  // no input channels: y is the bias alone
  run_gather(g, groups, y.device().index);
}

void implicit_gemm_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& p, Tensor& dx) {
  constexpr const char* op = "conv2d backward-data (implicit GEMM)";
  check_shapes(op, dx, w, dy, p);
  if (dx.numel() == 0) return;
  const int groups = static_cast<int>(p.groups);

  GatherGemm g{};
  Tensor wt = pack_weight(w, groups, /*k_is_cin=*/false, g);
  g.src = dy.data<float>();
  g.bias = nullptr;
  g.dst = dx.data<float>();
  g.batch = to_int(dx.size(0), "batch", op, dx);
  g.src_c = to_int(dy.size(1), "channels", op, dy);
  g.src_h = to_int(dy.size(2), "height", op, dy);
  g.src_w = to_int(dy.size(3), "width", op, dy);
  g.dst_c = to_int(dx.size(1), "channels", op, dx);
  g.dst_h = to_int(dx.size(2), "height", op, dx);
  g.dst_w = to_int(dx.size(3), "width", op, dx);
  check_int_range(dx.size(0) * dx.size(2) * dx.size(3), "pixel count", op, dx);
  g.src_stride_h = g.src_stride_w = 1;

  // Input row ih = ph + q*s receives from tap kh iff (ph + pad - kh*d) is a multiple of s, and
  // then from dy row q + (ph + pad - kh*d)/s. The solutions kh form one residue class modulo
  // s/gcd(s, d), so a phase's taps are an arithmetic progression (possibly empty).
  auto phase_axis = [](int ph, int64_t s, int64_t pad, int64_t d, int64_t k) {
    TapAxis a;
    const int64_t step = s / std::gcd(s, d);
    int64_t k0 = 0;
    while (k0 < step && ((ph + pad - k0 * d) % s + s) % s != 0) ++k0;
    if (k0 == step || k0 >= k) return a;  // no tap lands on this phase
    a.count = static_cast<int>((k - 1 - k0) / step + 1);
    a.k0 = static_cast<int>(k0);
    a.kstep = static_cast<int>(step);
    a.off0 = static_cast<int>((ph + pad - k0 * d) / s);
    a.offstep = static_cast<int>(-(step * d) / s);
    return a;
  };
  const int64_t sh = p.stride[0], sw = p.stride[1];
  for (int ph = 0; ph < sh && ph < g.dst_h; ++ph) {
    for (int pw = 0; pw < sw && pw < g.dst_w; ++pw) {
      g.q_h = static_cast<int>(ceil_div(g.dst_h - ph, sh));
      g.q_w = static_cast<int>(ceil_div(g.dst_w - pw, sw));
      g.dst_stride_h = static_cast<int>(sh);
      g.dst_stride_w = static_cast<int>(sw);
      g.dst_off_h = ph;
      g.dst_off_w = pw;
      g.th = phase_axis(ph, sh, p.padding[0], p.dilation[0], w.size(2));
      g.tw = phase_axis(pw, sw, p.padding[1], p.dilation[1], w.size(3));
      if (dy.numel() == 0) g.th.count = 0;  // nothing flows back: dx is zero
      run_gather(g, groups, dx.device().index);
    }
  }
}

void implicit_gemm_backward_weight(const Tensor& dy, const Tensor& x, const Conv2dParams& p, Tensor& dw) {
  constexpr const char* op = "conv2d backward-weight (implicit GEMM)";
  check_shapes(op, x, dw, dy, p);
  if (dw.numel() == 0) return;
  if (dy.numel() == 0 || x.numel() == 0) {  // an empty reduction
    wb::cuda::fill_zero(dw.data<float>(), dw.numel() * sizeof(float), dw.device().index);
    return;
  }
  WeightGradGemm g{};
  g.dy = dy.data<float>();
  g.x = x.data<float>();
  g.batch = to_int(x.size(0), "batch", op, x);
  g.cin = to_int(x.size(1), "channels", op, x);
  g.h = to_int(x.size(2), "height", op, x);
  g.w = to_int(x.size(3), "width", op, x);
  g.cout = to_int(dy.size(1), "channels", op, dy);
  g.oh = to_int(dy.size(2), "height", op, dy);
  g.ow = to_int(dy.size(3), "width", op, dy);
  check_int_range(dy.size(0) * dy.size(2) * dy.size(3), "pixel count", op, dy);
  check_int_range(dw.size(1) * dw.size(2) * dw.size(3), "columns", op, dw);
  g.groups = static_cast<int>(p.groups);
  g.cout_g = g.cout / g.groups;
  g.cin_g = static_cast<int>(dw.size(1));
  g.kh = static_cast<int>(dw.size(2));
  g.kw = static_cast<int>(dw.size(3));
  g.stride_h = static_cast<int>(p.stride[0]);
  g.stride_w = static_cast<int>(p.stride[1]);
  g.pad_h = static_cast<int>(p.padding[0]);
  g.pad_w = static_cast<int>(p.padding[1]);
  g.dil_h = static_cast<int>(p.dilation[0]);
  g.dil_w = static_cast<int>(p.dilation[1]);

  // A tall tile for wide layers (fewer re-gathers of x per column), a flat one for narrow layers
  // with many (channel, tap) columns, square otherwise.
  const int device = dw.device().index;
  const int64_t ncols = int64_t(g.cin_g) * g.kh * g.kw;
  if (g.cout_g >= 128) return run_weight_grad<128, 64, 4, 2>(g, dw, device);
  if (g.cout_g <= 32 && ncols >= 128) return run_weight_grad<32, 128, 1, 4>(g, dw, device);
  run_weight_grad<64, 64, 2, 2>(g, dw, device);
}

}  // namespace wb::kernels::cuda::detail
