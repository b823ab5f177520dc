#include "nas/flops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace wb::nas {

namespace {

// A spatial size through a 3x3 stride-2 conv with padding 1.
int64_t halve(int64_t x) { return (x + 1) / 2; }

struct Counter {
  int64_t macs = 0;
  // A conv without bias term in the count: cout x cin/groups x k^2 per output pixel.
  void conv(int64_t cin, int64_t cout, int64_t k, int64_t groups, int64_t pixels) {
    macs += cout * (cin / groups) * k * k * pixels;
  }
};

}  // namespace

double to_gflops(int64_t macs) { return static_cast<double>(macs) / (1024.0 * 1024.0 * 1024.0); }

int64_t to_macs(double gflops) { return static_cast<int64_t>(std::floor(gflops * 1024.0 * 1024.0 * 1024.0)); }

int64_t hrnet_macs(const pose::HRNetConfig& c) {
  Counter n;
  int64_t h = c.input_size[0], w = c.input_size[1];
  if (c.stem) {
    h = halve(h), w = halve(w);
    n.conv(3, c.stem_channels, 3, 1, h * w);
    h = halve(h), w = halve(w);
    n.conv(c.stem_channels, c.stem_channels, 3, 1, h * w);
  }
  // Resolution of branch b.
  std::vector<int64_t> hs{h}, ws{w};
  for (int b = 1; b < 4; ++b) hs.push_back(halve(hs.back())), ws.push_back(halve(ws.back()));
  auto px = [&](size_t b) { return hs[b] * ws[b]; };

  // layer1: Bottlenecks (1x1, grouped 3x3, 1x1 to 4p), a projection where the width changes.
  const int64_t p = c.stage1_channels, out1 = 4 * p;
  for (int64_t b = 0; b < c.stage1_blocks; ++b) {
    const int64_t in = b == 0 ? c.stem_channels : out1;
    n.conv(in, p, 1, 1, px(0));
    n.conv(p, p, 3, c.stage1_groups, px(0));
    n.conv(p, out1, 1, 1, px(0));
    if (b == 0 && in != out1) n.conv(in, out1, 1, 1, px(0));
  }
  std::vector<int64_t> pre{out1};
  for (int s = 0; s < 3; ++s) {
    const std::vector<int64_t> cur = c.branch_channels(s + 2);
    // Transition: a 3x3 where an existing branch changes width; the new branch by one 3x3 s2.
    for (size_t i = 0; i < pre.size(); ++i) {
      if (cur[i] != pre[i]) n.conv(pre[i], cur[i], 3, 1, px(i));
    }
    n.conv(pre.back(), cur.back(), 3, 1, px(cur.size() - 1));
    for (int64_t m = 0; m < c.num_modules[s]; ++m) {
      for (size_t b = 0; b < cur.size(); ++b) {
        n.macs += 2 * c.num_blocks[s] * cur[b] * (cur[b] / c.branch_groups[b]) * 9 * px(b);
      }
      const bool last = s == 2 && m == c.num_modules[s] - 1;
      const size_t rows = c.v2() || !last ? cur.size() : 1;
      for (size_t i = 0; i < rows; ++i) {
        for (size_t j = 0; j < cur.size(); ++j) {
          if (j > i) n.conv(cur[j], cur[i], 1, 1, px(j));
          for (size_t k = j; k < i; ++k) n.conv(cur[j], k + 1 == i ? cur[i] : cur[j], 3, 1, px(k + 1));
        }
      }
    }
    pre = cur;
  }
  const int64_t rep = c.out_channels();
  if (c.v2()) n.conv(rep, rep, 1, 1, px(0));
  n.conv(rep, c.num_keypoints, 1, 1, px(0));
  return n.macs;
}

ZoomNetMacs zoomnet_macs(const pose::ZoomNetConfig& c) {
  auto head = [&](const pose::ZoomHeadConfig& h) {
    const int64_t in = c.body.feature_channels(static_cast<int>(h.feature_stage));
    return in * h.net.stem_channels * h.net.input_size[0] * h.net.input_size[1] + hrnet_macs(h.net);
  };
  ZoomNetMacs m;
  m.body = hrnet_macs(c.body);
  m.face = head(c.face_head);
  m.hand = 2 * head(c.hand_head);
  return m;
}

}  // namespace wb::nas
