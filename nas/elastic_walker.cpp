#include "nas/elastic_walker.h"

#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_conv.h"
#include "autograd/ops_norm.h"
#include "autograd/ops_pose.h"
#include "nn/flops.h"
#include "tensor/error.h"

namespace wb::nas {

void check_sub_hrnet(const pose::HRNetConfig& a, const pose::HRNetConfig& s, const std::string& prefix) {
  a.validate(prefix.empty() ? "sub-network" : "sub-network: " + prefix.substr(0, prefix.size() - 1));
  auto le = [&](const char* field, int64_t v, int64_t max) {
    check(v <= max, "sub-network: field \"", prefix, field, "\" is ", v, ", the supernet has ", max);
  };
  check(a.stem == s.stem && a.head == s.head && a.num_keypoints == s.num_keypoints, "sub-network: fields \"", prefix,
        "stem\", \"", prefix, "head\" and \"", prefix, "num_keypoints\" must equal the supernet's");
  // The walker runs the supernet's fuse layers, whose upsampling is fixed at construction.
  check(a.upsample == s.upsample, "sub-network: field \"", prefix, "upsample\" is \"", a.upsample,
        "\", the supernet's fuse layers upsample \"", s.upsample, "\"");
  le("stem_channels", a.stem_channels, s.stem_channels);
  le("stage1_blocks", a.stage1_blocks, s.stage1_blocks);
  le("stage1_channels", a.stage1_channels, s.stage1_channels);
  for (int i = 0; i < 3; ++i) {
    le("num_modules", a.num_modules[i], s.num_modules[i]);
    le("num_blocks", a.num_blocks[i], s.num_blocks[i]);
  }
  for (int b = 0; b < 4; ++b) le("branch_widths", a.branch_width(b), s.branch_width(b));
  check(s.stage1_groups == 1 && s.branch_groups == std::array<int64_t, 4>{1, 1, 1, 1}, "supernet: every conv of ",
        prefix.empty() ? std::string("the network") : prefix.substr(0, prefix.size() - 1),
        " must be dense (groups 1)");
}

ElasticWalker::ElasticWalker(const pose::HRNetConfig& active, bool training, const ModuleNames* names,
                             TensorMap* record)
    : active_(active), training_(training), names_(names), record_(record) {
  check(record == nullptr || names != nullptr, "ElasticWalker: recording needs the module names");
}

std::string ElasticWalker::name_of(const nn::Module& m) const {
  if (!names_) return m.type_name();
  const auto it = names_->find(&m);
  return it == names_->end() ? m.type_name() : it->second;
}

void ElasticWalker::keep(const nn::Module& m, const char* field, const Tensor& t) {
  if (!record_) return;
  const auto it = names_->find(&m);
  check(it != names_->end(), "ElasticWalker: no name for a ", m.type_name(), " it records");
  (*record_)[it->second + "." + field] = t;
}

Tensor ElasticWalker::conv(const nn::Conv2d& c, const Tensor& x, int64_t cout, int64_t groups,
                           const std::vector<std::pair<int64_t, int64_t>>* in_segments) {
  const nn::Conv2dOptions& o = c.options();
  const int64_t cin = x.size(1);
  check(o.groups == 1 && o.kernel.h == o.kernel.w, "elastic sub-network: supernet convs must be dense and square");
  check(cout <= o.out_channels && cin <= o.in_channels, "elastic sub-network: ", name_of(c),
        " needs ", cout, "x", cin, " channels, the supernet has ", o.out_channels, "x", o.in_channels);
  Tensor w;
  if (in_segments) {
    std::vector<Tensor> cols;
    for (const auto& [off, len] : *in_segments) cols.push_back(ops::narrow(c.weight, 1, off, len));
    w = ops::narrow(ops::concat(cols, 1), 0, 0, cout);
  } else {
    w = ops::elastic_slice(c.weight, {cout, cin, o.kernel.h});
  }
  if (groups > 1) {
    check(cout % groups == 0 && cin % groups == 0, "elastic sub-network: groups ", groups, " do not divide ", cout, "x",
          cin, " channels");
    const int64_t og = cout / groups, ig = cin / groups;
    std::vector<Tensor> blocks;
    for (int64_t g = 0; g < groups; ++g) blocks.push_back(ops::narrow(ops::narrow(w, 0, g * og, og), 1, g * ig, ig));
    w = ops::concat(blocks, 0);
  }
  Tensor bias = c.bias.defined() ? ops::narrow(c.bias, 0, 0, cout) : Tensor();
  kernels::Conv2dParams p;
  p.stride = {o.stride.h, o.stride.w};
  p.padding = {o.padding.h, o.padding.w};
  p.dilation = {o.dilation.h, o.dilation.w};
  p.groups = groups;
  Tensor y = ops::conv2d(x, w, bias, p);
  nn::report_macs(c, w.numel() * y.size(0) * y.size(2) * y.size(3));
  keep(c, "weight", w);
  if (bias.defined()) keep(c, "bias", bias);
  return y;
}

Tensor ElasticWalker::bn(nn::BatchNorm2d& b, const Tensor& x, bool relu) {
  const int64_t ch = x.size(1);
  check(ch <= b.channels(), "elastic sub-network: BN of ", b.channels(), " channels given ", ch);
  Tensor gamma = ops::narrow(b.weight, 0, 0, ch), beta = ops::narrow(b.bias, 0, 0, ch);
  Tensor mean, var;
  {
    autograd::NoGradGuard no_grad;
    mean = ops::narrow(b.running_mean, 0, 0, ch);
    var = ops::narrow(b.running_var, 0, 0, ch);
  }
  kernels::BatchNormParams p = b.params();
  p.relu = relu;
  Tensor none_mean, none_var;  // training: batch statistics, running ones untouched
  Tensor y = training_ ? ops::batch_norm(x, gamma, beta, none_mean, none_var, true, p)
                      : ops::batch_norm(x, gamma, beta, mean, var, false, p);
  keep(b, "weight", gamma);
  keep(b, "bias", beta);
  keep(b, "running_mean", mean);
  keep(b, "running_var", var);
  keep(b, "num_batches_tracked", b.num_batches_tracked);
  return y;
}

// conv -> BN -> (ReLU) as a Sequential (transitions and fuse layers), to `cout` channels.
Tensor ElasticWalker::conv_bn(nn::Module& seq_module, const Tensor& x, int64_t cout) {
  auto& seq = static_cast<nn::Sequential&>(seq_module);
  const bool relu = seq.size() > 2 && dynamic_cast<nn::ReLU*>(seq[2].get()) != nullptr;
  Tensor y = conv(static_cast<nn::Conv2d&>(*seq[0]), x, cout);
  return bn(static_cast<nn::BatchNorm2d&>(*seq[1]), y, relu);
}

Tensor ElasticWalker::shortcut(nn::Module* ds, const Tensor& x, int64_t cout, int64_t stride_in) {
  if (x.size(1) == cout && stride_in == 1) return x;  // the plain model builds no projection here
  check(ds != nullptr, "elastic sub-network: the sub-network needs a projection shortcut the supernet lacks");
  return conv_bn(*ds, x, cout);
}

Tensor ElasticWalker::bottleneck(pose::Bottleneck& b, const Tensor& x, int64_t planes, int64_t groups) {
  Tensor y = bn(*b.bn1, conv(*b.conv1, x, planes), true);
  y = bn(*b.bn2, conv(*b.conv2, y, planes, groups), true);
  y = bn(*b.bn3, conv(*b.conv3, y, planes * 4), false);
  return ops::relu(ops::add(y, shortcut(b.downsample.get(), x, planes * 4, b.conv2->options().stride.h)));
}

Tensor ElasticWalker::basic(pose::BasicBlock& b, const Tensor& x, int64_t planes, int64_t groups) {
  Tensor y = bn(*b.bn1, conv(*b.conv1, x, planes, groups), true);
  y = bn(*b.bn2, conv(*b.conv2, y, planes, groups), false);
  return ops::relu(ops::add(y, shortcut(b.downsample.get(), x, planes, b.conv1->options().stride.h)));
}

std::vector<Tensor> ElasticWalker::module(pose::HRModule& m, const std::vector<Tensor>& xs, int64_t blocks,
                                          bool multiscale, const std::vector<int64_t>& widths, const std::vector<int64_t>& groups) {
  std::vector<Tensor> b(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    auto& branch = static_cast<nn::Sequential&>(*m.branches->get(i));
    b[i] = xs[i];
    for (int64_t k = 0; k < blocks; ++k) {
      b[i] = basic(static_cast<pose::BasicBlock&>(*branch[static_cast<size_t>(k)]), b[i], widths[i], groups[i]);
    }
  }
  std::vector<Tensor> out;
  for (size_t i = 0; i < (multiscale ? b.size() : 1); ++i) {
    check(i < m.fuse_layers->size(), "elastic sub-network: the supernet's last module keeps one output only");
    const auto* row = static_cast<const pose::ModuleList*>(m.fuse_layers->get(i));
    Tensor y;
    for (size_t j = 0; j < b.size(); ++j) {
      Tensor term = b[j];
      if (j > i) {
        auto& up = static_cast<nn::Sequential&>(*row->get(j));
        term = (*up[2])(conv_bn(up, b[j], widths[i]));
      } else if (j < i) {
        auto& chain = static_cast<nn::Sequential&>(*row->get(j));
        for (size_t k = 0; k < i - j; ++k) term = conv_bn(*chain[k], term, k + 1 == i - j ? widths[i] : widths[j]);
      }
      y = y.defined() ? ops::add(y, term) : term;
    }
    out.push_back(ops::relu(y));
  }
  return out;
}

Tensor ElasticWalker::net(pose::HRNet& n, const Tensor& x, pose::HRNet::FeatureTaps* taps) {
  const pose::HRNetConfig& a = active_;
  Tensor y = x;
  if (a.stem) {
    y = bn(*n.bn1, conv(*n.conv1, y, a.stem_channels), true);
    y = bn(*n.bn2, conv(*n.conv2, y, a.stem_channels), true);
  }
  if (taps) (*taps)[0] = y;
  for (int64_t k = 0; k < a.stage1_blocks; ++k) {
    y = bottleneck(static_cast<pose::Bottleneck&>(*(*n.layer1)[static_cast<size_t>(k)]), y, a.stage1_channels,
                   a.stage1_groups);
  }
  std::vector<Tensor> xs{y};
  if (taps) (*taps)[1] = y;
  for (int s = 0; s < 3; ++s) {
    const std::vector<int64_t> cur = a.branch_channels(s + 2);
    std::vector<Tensor> ins;
    for (size_t i = 0; i < cur.size(); ++i) {
      nn::Module* t = n.transitions[s]->get(i);
      if (i < xs.size()) {
        if (xs[i].size(1) == cur[i]) {
          ins.push_back(xs[i]);
        } else {
          check(t != nullptr, "elastic sub-network: transition", s + 1, ".", i, " is absent in the supernet");
          ins.push_back(conv_bn(*t, xs[i], cur[i]));
        }
      } else {
        auto& chain = static_cast<nn::Sequential&>(*t);
        Tensor z = xs.back();
        for (size_t k = 0; k < chain.size(); ++k) {
          z = conv_bn(*chain[k], z, k + 1 == chain.size() ? cur[i] : z.size(1));
        }
        ins.push_back(z);
      }
    }
    const std::vector<int64_t> groups(a.branch_groups.begin(), a.branch_groups.begin() + s + 2);
    for (int64_t m = 0; m < a.num_modules[s]; ++m) {
      const bool last = s == 2 && m == a.num_modules[s] - 1;
      ins = module(static_cast<pose::HRModule&>(*(*n.stages[s])[static_cast<size_t>(m)]), ins, a.num_blocks[s],
                   a.v2() || !last, cur, groups);
    }
    xs = std::move(ins);
    if (taps) (*taps)[s + 2] = xs.front();
  }
  return a.v2() ? pose::concat_resized(xs) : xs.front();
}

Tensor ElasticWalker::head(pose::HeatmapHead& h, const Tensor& rep, const pose::HRNet& n) {
  Tensor y = rep;
  if (h.conv_layers) {
    // HRNetV2: the representation is [branch 0 | 1 | 2 | 3]; each active branch is the leading
    // part of its segment in the supernet's concatenation.
    std::vector<std::pair<int64_t, int64_t>> segs;
    int64_t off = 0;
    for (int b = 0; b < 4; ++b) {
      segs.emplace_back(off, active_.branch_width(b));
      off += n.config().branch_width(b);
    }
    auto& seq = static_cast<nn::Sequential&>(*h.conv_layers);
    y = conv(static_cast<nn::Conv2d&>(*seq[0]), y, active_.out_channels(), 1, &segs);
    y = bn(static_cast<nn::BatchNorm2d&>(*seq[1]), y, true);
  }
  return conv(*h.final_layer, y, active_.num_keypoints);
}

}  // namespace wb::nas
