#include "nas/elastic.h"

#include "autograd/node.h"
#include "nas/elastic_walker.h"
#include "pose/models/factory.h"
#include "tensor/error.h"

namespace wb::nas {

ElasticHRNet::ElasticHRNet(std::shared_ptr<pose::TopDownModel> model) : model_(std::move(model)) {
  net_ = dynamic_cast<pose::HRNet*>(model_->backbone.get());
  check(net_ != nullptr, "ElasticHRNet: the supernet's backbone must be an HRNet");
  check(!model_->head->deconv_layers, "ElasticHRNet: the supernet's head must have no deconv layers");
}

void ElasticHRNet::check_fits(const pose::HRNetConfig& a) const { check_sub_hrnet(a, net_->config(), ""); }

Tensor ElasticHRNet::forward(const Tensor& x, const pose::HRNetConfig& active) {
  check_fits(active);
  ElasticWalker walk(active, model_->is_training());
  return walk.head(*model_->head, walk.net(*net_, x), *net_);
}

std::shared_ptr<pose::TopDownModel> ElasticHRNet::export_subnet(const pose::HRNetConfig& active) {
  check_fits(active);
  TensorMap weights;
  ModuleNames names;
  for (auto& [name, m] : model_->named_modules()) names[m] = name;
  ElasticWalker walk(active, false, &names, &weights);
  {
    autograd::NoGradGuard no_grad;
    const int64_t cin = active.stem ? 3 : active.stem_channels;
    const Tensor& w = model_->head->final_layer->weight;
    const Tensor x = Tensor::zeros({1, cin, active.input_size[0], active.input_size[1]}, w.dtype(), w.device());
    walk.head(*model_->head, walk.net(*net_, x), *net_);
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
