#include "nas/elastic.h"

#include <map>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_conv.h"
#include "autograd/ops_norm.h"
#include "autograd/ops_pose.h"
#include "nn/flops.h"
#include "pose/models/blocks.h"
#include "pose/models/factory.h"
#include "tensor/error.h"

namespace wb::nas {

// One forward of a sub-network. With `record` set, every weight the sub-network uses is stored
// under its state_dict name (what export_subnet loads into the plain model).
struct ElasticHRNet::Run {
  const pose::HRNetConfig& active;
  bool training;
  std::map<const nn::Module*, std::string> names;  // filled only when recording
  TensorMap* record = nullptr;

  void keep(const nn::Module& m, const char* field, const Tensor& t) {
    if (record) (*record)[names.at(&m) + "." + field] = t;
  }

  // `c` on x with `cout` leading output channels and `groups` groups (block-diagonal rule). With
  // `in_segments`, the input channels are the leading ones of each segment (offset, length) of
  // the full input instead of the leading x.size(1).
  Tensor conv(const nn::Conv2d& c, const Tensor& x, int64_t cout, int64_t groups = 1,
              const std::vector<std::pair<int64_t, int64_t>>* in_segments = nullptr) {
    const nn::Conv2dOptions& o = c.options();
    const int64_t cin = x.size(1);
    check(o.groups == 1 && o.kernel.h == o.kernel.w, "ElasticHRNet: supernet convs must be dense and square");
    check(cout <= o.out_channels && cin <= o.in_channels, "ElasticHRNet: ", names.empty() ? "a conv" : names.at(&c),
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
      check(cout % groups == 0 && cin % groups == 0, "ElasticHRNet: groups ", groups, " do not divide ", cout, "x",
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

  Tensor bn(nn::BatchNorm2d& b, const Tensor& x, bool relu) {
    const int64_t ch = x.size(1);
    check(ch <= b.channels(), "ElasticHRNet: BN of ", b.channels(), " channels given ", ch);
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
    Tensor y = training ? ops::batch_norm(x, gamma, beta, none_mean, none_var, true, p)
                        : ops::batch_norm(x, gamma, beta, mean, var, false, p);
    keep(b, "weight", gamma);
    keep(b, "bias", beta);
    keep(b, "running_mean", mean);
    keep(b, "running_var", var);
    keep(b, "num_batches_tracked", b.num_batches_tracked);
    return y;
  }

  // conv -> BN -> (ReLU) as a Sequential (transitions and fuse layers), to `cout` channels.
  Tensor conv_bn(nn::Module& seq_module, const Tensor& x, int64_t cout) {
    auto& seq = static_cast<nn::Sequential&>(seq_module);
    const bool relu = seq.size() > 2 && dynamic_cast<nn::ReLU*>(seq[2].get()) != nullptr;
    Tensor y = conv(static_cast<nn::Conv2d&>(*seq[0]), x, cout);
    return bn(static_cast<nn::BatchNorm2d&>(*seq[1]), y, relu);
  }

  Tensor shortcut(const std::shared_ptr<nn::Sequential>& ds, const Tensor& x, int64_t cout, int64_t stride_in) {
    if (x.size(1) == cout && stride_in == 1) return x;  // the plain model builds no projection here
    check(ds != nullptr, "ElasticHRNet: the sub-network needs a projection shortcut the supernet lacks");
    return conv_bn(*ds, x, cout);
  }

  Tensor bottleneck(pose::Bottleneck& b, const Tensor& x, int64_t planes, int64_t groups) {
    Tensor y = bn(*b.bn1, conv(*b.conv1, x, planes), true);
    y = bn(*b.bn2, conv(*b.conv2, y, planes, groups), true);
    y = bn(*b.bn3, conv(*b.conv3, y, planes * 4), false);
    return ops::relu(ops::add(y, shortcut(b.downsample, x, planes * 4, b.conv2->options().stride.h)));
  }

  Tensor basic(pose::BasicBlock& b, const Tensor& x, int64_t planes, int64_t groups) {
    Tensor y = bn(*b.bn1, conv(*b.conv1, x, planes, groups), true);
    y = bn(*b.bn2, conv(*b.conv2, y, planes, groups), false);
    return ops::relu(ops::add(y, shortcut(b.downsample, x, planes, b.conv1->options().stride.h)));
  }

  std::vector<Tensor> module(pose::HRModule& m, const std::vector<Tensor>& xs, int64_t blocks, bool multiscale,
                             const std::vector<int64_t>& widths, const std::vector<int64_t>& groups) {
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
      check(i < m.fuse_layers->size(), "ElasticHRNet: the supernet's last module keeps one output only");
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

  Tensor net(pose::HRNet& n, const Tensor& x) {
    const pose::HRNetConfig& a = active;
    Tensor y = x;
    if (a.stem) {
      y = bn(*n.bn1, conv(*n.conv1, y, a.stem_channels), true);
      y = bn(*n.bn2, conv(*n.conv2, y, a.stem_channels), true);
    }
    for (int64_t k = 0; k < a.stage1_blocks; ++k) {
      y = bottleneck(static_cast<pose::Bottleneck&>(*(*n.layer1)[static_cast<size_t>(k)]), y, a.stage1_channels,
                     a.stage1_groups);
    }
    std::vector<Tensor> xs{y};
    for (int s = 0; s < 3; ++s) {
      const std::vector<int64_t> cur = a.branch_channels(s + 2);
      std::vector<Tensor> ins;
      for (size_t i = 0; i < cur.size(); ++i) {
        nn::Module* t = n.transitions[s]->get(i);
        if (i < xs.size()) {
          if (xs[i].size(1) == cur[i]) {
            ins.push_back(xs[i]);
          } else {
            check(t != nullptr, "ElasticHRNet: transition", s + 1, ".", i, " is absent in the supernet");
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
    }
    return a.v2() ? pose::concat_resized(xs) : xs.front();
  }

  Tensor head(pose::HeatmapHead& h, const Tensor& rep, const pose::HRNet& n) {
    Tensor y = rep;
    if (h.conv_layers) {
      // HRNetV2: the representation is [branch 0 | 1 | 2 | 3]; each active branch is the leading
      // part of its segment in the supernet's concatenation.
      std::vector<std::pair<int64_t, int64_t>> segs;
      int64_t off = 0;
      for (int b = 0; b < 4; ++b) {
        segs.emplace_back(off, active.branch_width(b));
        off += n.config().branch_width(b);
      }
      auto& seq = static_cast<nn::Sequential&>(*h.conv_layers);
      y = conv(static_cast<nn::Conv2d&>(*seq[0]), y, active.out_channels(), 1, &segs);
      y = bn(static_cast<nn::BatchNorm2d&>(*seq[1]), y, true);
    }
    return conv(*h.final_layer, y, active.num_keypoints);
  }
};

ElasticHRNet::ElasticHRNet(std::shared_ptr<pose::TopDownModel> model) : model_(std::move(model)) {
  net_ = dynamic_cast<pose::HRNet*>(model_->backbone.get());
  check(net_ != nullptr, "ElasticHRNet: the supernet's backbone must be an HRNet");
  check(!model_->head->deconv_layers, "ElasticHRNet: the supernet's head must have no deconv layers");
}

void ElasticHRNet::check_fits(const pose::HRNetConfig& a) const {
  const pose::HRNetConfig& s = net_->config();
  a.validate("sub-network");
  auto le = [](const char* field, int64_t v, int64_t max) {
    check(v <= max, "sub-network: field \"", field, "\" is ", v, ", the supernet has ", max);
  };
  check(a.stem == s.stem && a.head == s.head && a.num_keypoints == s.num_keypoints,
        "sub-network: fields \"stem\", \"head\" and \"num_keypoints\" must equal the supernet's");
  le("stem_channels", a.stem_channels, s.stem_channels);
  le("stage1_blocks", a.stage1_blocks, s.stage1_blocks);
  le("stage1_channels", a.stage1_channels, s.stage1_channels);
  for (int i = 0; i < 3; ++i) {
    le("num_modules", a.num_modules[i], s.num_modules[i]);
    le("num_blocks", a.num_blocks[i], s.num_blocks[i]);
  }
  for (int b = 0; b < 4; ++b) le("branch_widths", a.branch_width(b), s.branch_width(b));
  check(s.stage1_groups == 1 && s.branch_groups == std::array<int64_t, 4>{1, 1, 1, 1},
        "supernet: every conv must be dense (groups 1)");
}

Tensor ElasticHRNet::forward(const Tensor& x, const pose::HRNetConfig& active) {
  check_fits(active);
  Run run{active, model_->is_training(), {}, nullptr};
  return run.head(*model_->head, run.net(*net_, x), *net_);
}

std::shared_ptr<pose::TopDownModel> ElasticHRNet::export_subnet(const pose::HRNetConfig& active) {
  check_fits(active);
  TensorMap weights;
  Run run{active, false, {}, &weights};
  for (auto& [name, m] : model_->named_modules()) run.names[m] = name;
  {
    autograd::NoGradGuard no_grad;
    const int64_t cin = active.stem ? 3 : active.stem_channels;
    const Tensor& w = model_->head->final_layer->weight;
    const Tensor x = Tensor::zeros({1, cin, active.input_size[0], active.input_size[1]}, w.dtype(), w.device());
    run.head(*model_->head, run.net(*net_, x), *net_);
  }
  auto sub = pose::build_model(pose::to_json(active), "sub-network");
  sub->to(model_->head->final_layer->weight.dtype());
  for (auto& [name, t] : weights) t = t.detach().cpu().clone();
  sub->load_state_dict(weights, true);  // strict: an error lists any weight the walker did not produce
  sub->to(model_->head->final_layer->weight.device());
  sub->train(model_->is_training());
  return sub;
}

}  // namespace wb::nas
