#include "kernels/cpu/conv_grouped.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

// The op library is built without floating-point contraction (CMakeLists.txt: resize and RoIAlign
// must round like CUDA); these sums of products gain nothing from separate rounding and lose half
// their speed, so this file contracts a * b + c into fused multiply-adds.
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif

namespace wb::kernels::cpu {

namespace {

constexpr int kLanes = 8;
constexpr int kBlock = 8;  // output pixels (forward, data gradient) or weight taps (weight gradient) per register block

template <int L>
struct Vec {
  typedef float type __attribute__((vector_size(L * sizeof(float))));
};

// memcpy: the staged buffers are float arrays; the compiler turns these into unaligned vector moves.
template <int L>
inline typename Vec<L>::type load(const float* p) {
  typename Vec<L>::type v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <int L>
inline void store(float* p, typename Vec<L>::type v) {
  std::memcpy(p, &v, sizeof v);
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One tap of a pass: where it reads in the staged operand (relative to a pixel's base) and which
// weight slot (i * kw + j) it multiplies.
struct Tap {
  int64_t off, slot;
};

// A set of result pixels that share one tap list: base[p] (staged operand offset) and pos[p] (the
// pixel's index in the result plane).
struct Pass {
  std::vector<Tap> taps;
  std::vector<int64_t> base, pos;
};

// The staged operand [hs][ws][red][lanes] (zero border: top rows, left columns) and the passes
// over it. lanes is L where the lanes of a block read different channels, 1 where they all belong
// to one group and so read the same ones (each value is then broadcast to the lanes when loaded).
struct Plan {
  int64_t red, lanes, hs, ws, top, left;
  std::vector<Pass> passes;
  int64_t pixel() const { return red * lanes; }  // floats per staged pixel
};

// Forward (and weight gradient): output pixel (oh, ow) reads staged (oh sh + i, ow sw + j).
Plan forward_plan(const GroupedConvShape& s, int64_t lanes) {
  Plan plan{s.c / s.groups, lanes, s.h + 2 * s.ph, s.w + 2 * s.pw, s.ph, s.pw, {}};
  Pass pass;
  for (int64_t i = 0; i < s.kh; ++i) {
    for (int64_t j = 0; j < s.kw; ++j) pass.taps.push_back({(i * plan.ws + j) * plan.pixel(), i * s.kw + j});
  }
  for (int64_t oh = 0; oh < s.ho; ++oh) {
    for (int64_t ow = 0; ow < s.wo; ++ow) {
      pass.base.push_back((oh * s.sh * plan.ws + ow * s.sw) * plan.pixel());
      pass.pos.push_back(oh * s.wo + ow);
    }
  }
  plan.passes.push_back(std::move(pass));
  return plan;
}

// One axis of the data gradient. Input index a * stride + phase is reached by tap i from output
// index a + d, d = (phase + pad - i) / stride, for the taps with (phase + pad - i) divisible by the
// stride. The staged dy has `lo` zero entries before index 0 and `size` entries in all.
struct Axis {
  std::vector<std::vector<std::pair<int64_t, int64_t>>> taps;  // per phase: (i, d)
  std::vector<int64_t> count;                                   // input indices of each phase
  int64_t lo = 0, size = 0;
};

Axis data_axis(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  Axis a;
  a.taps.resize(static_cast<size_t>(stride));
  int64_t hi = out;
  for (int64_t ph = 0; ph < stride; ++ph) {
    const int64_t count = ph < in ? (in - 1 - ph) / stride + 1 : 0;
    a.count.push_back(count);
    for (int64_t i = 0; i < k; ++i) {
      const int64_t num = ph + pad - i;
      if (((num % stride) + stride) % stride != 0 || count == 0) continue;
      const int64_t d = num >= 0 ? num / stride : -((-num) / stride);
      a.taps[static_cast<size_t>(ph)].push_back({i, d});
      a.lo = std::max(a.lo, -d);
      hi = std::max(hi, count + d);
    }
  }
  a.size = a.lo + hi;
  return a;
}

// Data gradient: one pass per (row phase, column phase) of the input pixel.
Plan data_plan(const GroupedConvShape& s, int64_t lanes) {
  const Axis rows = data_axis(s.h, s.ho, s.kh, s.sh, s.ph), cols = data_axis(s.w, s.wo, s.kw, s.sw, s.pw);
  Plan plan{s.o / s.groups, lanes, rows.size, cols.size, rows.lo, cols.lo, {}};
  for (int64_t pr = 0; pr < s.sh; ++pr) {
    for (int64_t pc = 0; pc < s.sw; ++pc) {
      Pass pass;
      for (const auto& [i, di] : rows.taps[static_cast<size_t>(pr)]) {
        for (const auto& [j, dj] : cols.taps[static_cast<size_t>(pc)]) {
          pass.taps.push_back({((di + plan.top) * plan.ws + dj + plan.left) * plan.pixel(), i * s.kw + j});
        }
      }
      for (int64_t a = 0; a < rows.count[static_cast<size_t>(pr)]; ++a) {
        for (int64_t b = 0; b < cols.count[static_cast<size_t>(pc)]; ++b) {
          pass.base.push_back((a * plan.ws + b) * plan.pixel());
          pass.pos.push_back((a * s.sh + pr) * s.w + b * s.sw + pc);
        }
      }
      if (!pass.pos.empty()) plan.passes.push_back(std::move(pass));
    }
  }
  return plan;
}

// An 8 x 8 transpose in registers: out[j][i] = in[i][j]. Through local vectors, so that the
// compiler sees no aliasing and turns it into shuffles.
using Vec8 = Vec<8>::type;
inline void transpose8(const Vec8 (&in)[8], Vec8 (&out)[8]) {
  for (int j = 0; j < 8; ++j) {
    for (int i = 0; i < 8; ++i) out[j][i] = in[i][j];
  }
}

// d[x * stride + k] = src[k][x] for k < planes, x < n: planes into interleaved pixels, in 8 x 8
// tiles where they fit.
void interleave(const float* const* src, int64_t planes, int64_t n, float* d, int64_t stride) {
  int64_t k0 = 0;
  for (; k0 + 8 <= planes; k0 += 8) {
    int64_t x = 0;
    for (; x + 8 <= n; x += 8) {
      Vec8 in[8], out[8];
      for (int k = 0; k < 8; ++k) in[k] = load<8>(src[k0 + k] + x);
      transpose8(in, out);
      for (int xx = 0; xx < 8; ++xx) store<8>(d + (x + xx) * stride + k0, out[xx]);
    }
    for (; x < n; ++x) {
      for (int64_t k = 0; k < 8; ++k) d[x * stride + k0 + k] = src[k0 + k][x];
    }
  }
  for (; k0 < planes; ++k0) {
    for (int64_t x = 0; x < n; ++x) d[x * stride + k0] = src[k0][x];
  }
}

// dst[k][x] = s[x * stride + k] for k < 8, x < n: interleaved pixels back into planes.
void deinterleave8(const float* s, int64_t n, int64_t stride, float* const* dst) {
  int64_t x = 0;
  for (; x + 8 <= n; x += 8) {
    Vec8 in[8], out[8];
    for (int xx = 0; xx < 8; ++xx) in[xx] = load<8>(s + (x + xx) * stride);
    transpose8(in, out);
    for (int k = 0; k < 8; ++k) store<8>(dst[k] + x, out[k]);
  }
  for (; x < n; ++x) {
    for (int64_t k = 0; k < 8; ++k) dst[k][x] = s[x * stride + k];
  }
}

// Fills the staged operand S [hs][ws][red][lanes] of one lane block: entry (r, l) of a staged
// pixel reads plane src[r * lanes + l] (h x w) at (row - top, column - left); zero outside it.
void stage(const Plan& plan, const float* const* src, int64_t h, int64_t w, float* S) {
  const int64_t pix = plan.pixel(), row_len = plan.ws * pix;
  const int64_t x0 = std::clamp(plan.left, int64_t{0}, plan.ws), x1 = std::clamp(plan.left + w, x0, plan.ws);
  std::vector<const float*> at(static_cast<size_t>(pix));
  for (int64_t yy = 0; yy < plan.hs; ++yy) {
    float* row = S + yy * row_len;
    const int64_t sy = yy - plan.top;
    if (sy < 0 || sy >= h) {
      std::fill(row, row + row_len, 0.f);
      continue;
    }
    std::fill(row, row + x0 * pix, 0.f);
    std::fill(row + x1 * pix, row + row_len, 0.f);
    for (int64_t k = 0; k < pix; ++k) at[static_cast<size_t>(k)] = src[k] + sy * w + x0 - plan.left;
    interleave(at.data(), pix, x1 - x0, row + x0 * pix, pix);
  }
}

// Result pixels pos[0, live) of one pass (live <= kBlock): Y[pos * L + l] = sum over taps and
// reduction index r of staged[base + tap.off + r lanes (+ l)] * Wb[(tap.slot red + r) L + l].
// Bcast: the plan's lanes is 1 and each staged value is broadcast.
template <int L, bool Bcast>
void pixel_block(const float* S, const int64_t* base, const int64_t* pos, int64_t live, const std::vector<Tap>& taps,
                 int64_t red, const float* Wb, float* Y) {
  using V = typename Vec<L>::type;
  const float* b[kBlock];
  for (int p = 0; p < kBlock; ++p) b[p] = S + base[std::min<int64_t>(p, live - 1)];  // spare lanes repeat the last
  V acc[kBlock] = {};
  for (const Tap& t : taps) {
    const float* wt = Wb + t.slot * red * L;
    for (int64_t r = 0; r < red; ++r) {
      const V wv = load<L>(wt + r * L);
      if constexpr (Bcast) {
        const int64_t off = t.off + r;
        for (int p = 0; p < kBlock; ++p) acc[p] += b[p][off] * wv;
      } else {
        const int64_t off = t.off + r * L;
        for (int p = 0; p < kBlock; ++p) acc[p] += load<L>(b[p] + off) * wv;
      }
    }
  }
  for (int64_t p = 0; p < live; ++p) store<L>(Y + pos[p] * L, acc[p]);
}

// Whether the live lanes of block b (channels b L ... of `channels`, `per_group` to a group) all
// belong to one group.
bool one_group(int64_t b, int64_t L, int64_t channels, int64_t per_group) {
  return b * L / per_group == (std::min(channels, (b + 1) * L) - 1) / per_group;
}

// Depthwise forward rows (one reduction index, a channel per lane; kernel width KW and column
// stride SW fixed at compile time): for a run of P output pixels of a row, each staged input vector
// of a kernel row is loaded once and multiplied by every weight that meets it, (P - 1) SW + KW
// loads for P KW multiply-adds instead of one load each. The last run of a row may compute past
// the row's end into the staging slack; those pixels are not stored.
constexpr int64_t kRowRun = 4;
constexpr int64_t kSlackPixels = (kRowRun - 1) * 2;  // the most a run reads past its row (SW <= 2)

template <int L, int KW, int SW>
void depthwise_rows(const float* S, const Plan& plan, const GroupedConvShape& s, const float* Wb, float* Y) {
  using V = typename Vec<L>::type;
  constexpr int P = kRowRun, span = (P - 1) * SW + KW;
  for (int64_t oh = 0; oh < s.ho; ++oh) {
    for (int64_t ow0 = 0; ow0 < s.wo; ow0 += P) {
      V acc[P] = {};
      for (int64_t i = 0; i < s.kh; ++i) {
        const float* x = S + ((oh * s.sh + i) * plan.ws + ow0 * SW) * L;
        V wv[KW];
        for (int j = 0; j < KW; ++j) wv[j] = load<L>(Wb + (i * KW + j) * L);
        for (int q = 0; q < span; ++q) {
          const V xv = load<L>(x + q * L);
          for (int p = 0; p < P; ++p) {
            const int j = q - p * SW;
            if (j >= 0 && j < KW) acc[p] += xv * wv[j];
          }
        }
      }
      const int64_t live = std::min<int64_t>(P, s.wo - ow0);
      for (int64_t p = 0; p < live; ++p) store<L>(Y + (oh * s.wo + ow0 + p) * L, acc[p]);
    }
  }
}

// Runs depthwise_rows if the forward shape fits one of its instances.
template <int L>
bool try_depthwise_rows(const float* S, const Plan& plan, const GroupedConvShape& s, const float* Wb, float* Y) {
  if (plan.red != 1 || plan.lanes != L || (s.sw != 1 && s.sw != 2)) return false;
  auto run = [&]<int KW>() {
    if (s.sw == 1) {
      depthwise_rows<L, KW, 1>(S, plan, s, Wb, Y);
    } else {
      depthwise_rows<L, KW, 2>(S, plan, s, Wb, Y);
    }
    return true;
  };
  switch (s.kw) {
    case 3: return run.template operator()<3>();
    case 5: return run.template operator()<5>();
    case 7: return run.template operator()<7>();
    default: return false;
  }
}

// The forward and the data gradient: out [n, out_c, out_hw] from lane blocks of out_c, per_group
// of them to a group. For lane channel ch and reduction index r, source(i, ch, r) is the plane
// (src_h x src_w of sample i) it reads, weight(ch, r, slot) its weight. plans[0] stages per lane,
// plans[1] per block (for blocks within one group). fwd: the forward's shape, or null for the data
// gradient.
template <int L, class Source, class Weight>
void direct(const Plan (&plans)[2], const GroupedConvShape* fwd, int64_t n, int64_t out_c, int64_t per_group,
            int64_t out_hw, int64_t src_h, int64_t src_w, int64_t slots, Source source, Weight weight, float* out) {
  const int64_t nb = ceil_div(out_c, L), red = plans[0].red, wsize = slots * red * L;
  std::vector<float> wb(static_cast<size_t>(nb * wsize), 0.f);
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t l = 0; l < L && b * L + l < out_c; ++l) {
      for (int64_t slot = 0; slot < slots; ++slot) {
        for (int64_t r = 0; r < red; ++r) {
          wb[static_cast<size_t>(b * wsize + (slot * red + r) * L + l)] = weight(b * L + l, r, slot);
        }
      }
    }
  }
  const std::vector<float> zeros(static_cast<size_t>(std::max<int64_t>(src_h * src_w, 1)), 0.f);
#pragma omp parallel
  {
    std::vector<float> S(static_cast<size_t>((plans[0].hs * plans[0].ws + kSlackPixels) * plans[0].pixel()), 0.f);
    std::vector<float> Y(static_cast<size_t>(out_hw * L));
    std::vector<const float*> src(static_cast<size_t>(red * L));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < n * nb; ++task) {
      const int64_t i = task / nb, b = task % nb;
      const bool bcast = one_group(b, L, out_c, per_group);
      const Plan& plan = plans[bcast ? 1 : 0];
      for (int64_t r = 0; r < red; ++r) {
        for (int64_t l = 0; l < plan.lanes; ++l) {
          const int64_t ch = b * L + l;
          src[static_cast<size_t>(r * plan.lanes + l)] = ch < out_c ? source(i, ch, r) : zeros.data();
        }
      }
      stage(plan, src.data(), src_h, src_w, S.data());
      const float* w = wb.data() + b * wsize;
      const bool rows = fwd && try_depthwise_rows<L>(S.data(), plan, *fwd, w, Y.data());
      for (const Pass& pass : rows ? std::vector<Pass>() : plan.passes) {
        const int64_t np = static_cast<int64_t>(pass.pos.size());
        for (int64_t p0 = 0; p0 < np; p0 += kBlock) {
          const int64_t live = std::min<int64_t>(kBlock, np - p0);
          if (bcast) {
            pixel_block<L, true>(S.data(), &pass.base[p0], &pass.pos[p0], live, pass.taps, red, w, Y.data());
          } else {
            pixel_block<L, false>(S.data(), &pass.base[p0], &pass.pos[p0], live, pass.taps, red, w, Y.data());
          }
        }
      }
      if ((b + 1) * L <= out_c && L == 8) {
        float* dst[8];
        for (int64_t l = 0; l < 8; ++l) dst[l] = out + (i * out_c + b * L + l) * out_hw;
        deinterleave8(Y.data(), out_hw, L, dst);
      } else {
        for (int64_t l = 0; l < L && b * L + l < out_c; ++l) {
          float* plane = out + (i * out_c + b * L + l) * out_hw;
          for (int64_t q = 0; q < out_hw; ++q) plane[q] = Y[static_cast<size_t>(q * L + l)];
        }
      }
    }
  }
}

template <int L>
void forward_impl(const GroupedConvShape& s, const float* x, const float* w, float* y) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, khw = s.kh * s.kw;
  const Plan plans[2] = {forward_plan(s, L), forward_plan(s, 1)};
  direct<L>(
      plans, &s, s.n, s.o, og, s.ho * s.wo, s.h, s.w, khw,
      [&](int64_t i, int64_t oc, int64_t r) { return x + (i * s.c + oc / og * cg + r) * s.h * s.w; },
      [&](int64_t oc, int64_t r, int64_t slot) { return w[(oc * cg + r) * khw + slot]; }, y);
}

template <int L>
void backward_data_impl(const GroupedConvShape& s, const float* dy, const float* w, float* dx) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, khw = s.kh * s.kw;
  const Plan plans[2] = {data_plan(s, L), data_plan(s, 1)};
  direct<L>(
      plans, nullptr, s.n, s.c, cg, s.h * s.w, s.ho, s.wo, khw,
      [&](int64_t i, int64_t ic, int64_t r) { return dy + (i * s.o + ic / cg * og + r) * s.ho * s.wo; },
      [&](int64_t ic, int64_t r, int64_t slot) { return w[((ic / cg * og + r) * cg + ic % cg) * khw + slot]; }, dx);
}

// The weight gradient of one lane block over one sample, kBlock (tap, r) pairs at a time:
// acc[(slot cg + r) L + l] += sum over output pixels q of D[q L + l] * staged[base(q) + offs[k] (+ l)].
template <int L, bool Bcast>
void weight_block(const float* S, const float* D, const Pass& pass, const std::vector<int64_t>& offs, float* acc_out) {
  using V = typename Vec<L>::type;
  const int64_t pairs = static_cast<int64_t>(offs.size()), np = static_cast<int64_t>(pass.base.size());
  for (int64_t k0 = 0; k0 < pairs; k0 += kBlock) {
    const int64_t live = std::min<int64_t>(kBlock, pairs - k0);
    int64_t off[kBlock];
    for (int k = 0; k < kBlock; ++k) off[k] = offs[static_cast<size_t>(k0 + std::min<int64_t>(k, live - 1))];
    V acc[kBlock] = {};
    for (int64_t q = 0; q < np; ++q) {
      const V d = load<L>(D + q * L);
      const float* xs = S + pass.base[static_cast<size_t>(q)];
      for (int k = 0; k < kBlock; ++k) {
        if constexpr (Bcast) {
          acc[k] += d * xs[off[k]];
        } else {
          acc[k] += d * load<L>(xs + off[k]);
        }
      }
    }
    for (int64_t k = 0; k < live; ++k) {
      float* a = acc_out + (k0 + k) * L;
      store<L>(a, load<L>(a) + acc[k]);
    }
  }
}

// dw [o, cg, kh, kw]: lane blocks of output channels; for each, the staged x of the forward and dy
// as [pixel][L]. The batch is split into `splits` ranges summed into their own partial dw, added
// in order at the end.
template <int L>
void backward_weight_impl(const GroupedConvShape& s, const float* x, const float* dy, float* dw) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, khw = s.kh * s.kw, hw = s.h * s.w, p = s.ho * s.wo;
  const Plan plans[2] = {forward_plan(s, L), forward_plan(s, 1)};
  const int64_t pairs = khw * cg, nb = ceil_div(s.o, L), wsize = pairs * L;
  std::vector<int64_t> offs[2];
  for (int m = 0; m < 2; ++m) {
    offs[m].resize(static_cast<size_t>(pairs));
    for (const Tap& t : plans[m].passes[0].taps) {
      for (int64_t r = 0; r < cg; ++r) offs[m][static_cast<size_t>(t.slot * cg + r)] = t.off + r * plans[m].lanes;
    }
  }
  const int threads = omp_get_max_threads();
  const int64_t splits = std::clamp<int64_t>(ceil_div(2 * threads, nb), 1, s.n);
  std::vector<float> partial(static_cast<size_t>(splits * nb * wsize), 0.f);
  const std::vector<float> zeros(static_cast<size_t>(std::max<int64_t>(hw, p)), 0.f);
#pragma omp parallel
  {
    std::vector<float> S(static_cast<size_t>(plans[0].hs * plans[0].ws * plans[0].pixel()));
    std::vector<float> D(static_cast<size_t>(p * L));
    std::vector<const float*> src(static_cast<size_t>(cg * L));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < splits * nb; ++task) {
      const int64_t split = task / nb, b = task % nb;
      const bool bcast = one_group(b, L, s.o, og);
      const Plan& plan = plans[bcast ? 1 : 0];
      float* acc_out = partial.data() + task * wsize;
      for (int64_t i = s.n * split / splits; i < s.n * (split + 1) / splits; ++i) {
        for (int64_t r = 0; r < cg; ++r) {
          for (int64_t l = 0; l < plan.lanes; ++l) {
            const int64_t oc = b * L + l;
            src[static_cast<size_t>(r * plan.lanes + l)] = oc < s.o ? x + (i * s.c + oc / og * cg + r) * hw : zeros.data();
          }
        }
        stage(plan, src.data(), s.h, s.w, S.data());
        const float* planes[L];
        for (int64_t l = 0; l < L; ++l) planes[l] = b * L + l < s.o ? dy + (i * s.o + b * L + l) * p : zeros.data();
        interleave(planes, L, p, D.data(), L);
        if (bcast) {
          weight_block<L, true>(S.data(), D.data(), plan.passes[0], offs[1], acc_out);
        } else {
          weight_block<L, false>(S.data(), D.data(), plan.passes[0], offs[0], acc_out);
        }
      }
    }
  }
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t l = 0; l < L && b * L + l < s.o; ++l) {
      const int64_t oc = b * L + l;
      for (int64_t k = 0; k < pairs; ++k) {
        float sum = 0.f;
        for (int64_t split = 0; split < splits; ++split) {
          sum += partial[static_cast<size_t>((split * nb + b) * wsize + k * L + l)];
        }
        dw[(oc * cg + k % cg) * khw + k / cg] = sum;
      }
    }
  }
}

}  // namespace

bool grouped_direct_suits(const GroupedConvShape& s) {
  return s.groups > 1 && s.c / s.groups <= 40 && s.o / s.groups <= 40;
}

void grouped_direct_forward(const GroupedConvShape& s, const float* x, const float* w, float* y) {
  forward_impl<kLanes>(s, x, w, y);
}

void grouped_direct_backward_data(const GroupedConvShape& s, const float* dy, const float* w, float* dx) {
  backward_data_impl<kLanes>(s, dy, w, dx);
}

void grouped_direct_backward_weight(const GroupedConvShape& s, const float* x, const float* dy, float* dw) {
  backward_weight_impl<kLanes>(s, x, dy, dw);
}

}  // namespace wb::kernels::cpu
