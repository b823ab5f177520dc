#include "tasks/train_config.h"

#include "datasets/loader.h"
#include "pose/models/config_reader.h"
#include "pose/models/factory.h"
#include "tasks/model_spec.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace {

// The model section: a model config object (pose/models/factory.h), inline so that one file is the
// whole recipe, as in MMPose (and as tasks/model_spec.h reads it for wbpose-eval and wbpose-infer).
const nlohmann::json& model_section(const nlohmann::json& j, const std::string& path) {
  const auto m = j.find("model");
  check(m != j.end(), path, ": a training config needs a \"model\" field (a model config object)");
  check(m->is_object(), path, ": field \"model\": expected a model config object, got ", m->type_name());
  return *m;
}

void read_data(pose::ConfigReader r, DataConfig& d) {
  r.get("root", d.root);
  r.get("train_annotations", d.train_annotations);
  r.get("val_annotations", d.val_annotations);
  r.get("train_images", d.train_images);
  r.get("val_images", d.val_images);
  r.get("val_boxes", d.val_boxes);
  r.get("workers", d.workers);
  r.finish();
  if (d.workers < 0 || d.workers > data::kMaxWorkers)
    r.fail_field("workers", "must be in [0, " + std::to_string(data::kMaxWorkers) + "]");
}

void read_augment(pose::ConfigReader r, data::TopDownConfig& t) {
  data::AugmentConfig& a = t.aug;
  r.get("enabled", t.augment);
  r.get("flip_prob", a.flip_prob);
  r.get("half_body_prob", a.half_body_prob);
  r.get("half_body_min_total", a.half_body_min_total);
  r.get("half_body_min_upper", a.half_body_min_upper);
  r.get("half_body_min_lower", a.half_body_min_lower);
  r.get("half_body_padding", a.half_body_padding);
  r.get("upper_prioritized_prob", a.upper_prioritized_prob);
  r.get("shift_factor", a.shift_factor);
  r.get("shift_prob", a.shift_prob);
  r.get("scale_min", a.scale_min);
  r.get("scale_max", a.scale_max);
  r.get("scale_prob", a.scale_prob);
  r.get("rotate_factor", a.rotate_factor);
  r.get("rotate_prob", a.rotate_prob);
  r.finish();
  for (const auto& [key, p] : {std::pair{"flip_prob", a.flip_prob}, {"half_body_prob", a.half_body_prob},
                               {"upper_prioritized_prob", a.upper_prioritized_prob}, {"shift_prob", a.shift_prob},
                               {"scale_prob", a.scale_prob}, {"rotate_prob", a.rotate_prob}}) {
    if (!(p >= 0 && p <= 1)) r.fail_field(key, "a probability must be in [0, 1]");
  }
  if (!(a.scale_min > 0 && a.scale_min <= a.scale_max)) r.fail_field("scale_min", "needs 0 < scale_min <= scale_max");
}

void read_optim(pose::ConfigReader r, OptimConfig& o) {
  r.get("epochs", o.epochs);
  r.get("batch_size", o.batch_size);
  r.get("optimizer", o.optimizer);
  r.get("lr", o.lr);
  r.get("weight_decay", o.weight_decay);
  r.get("warmup_iters", o.warmup_iters);
  r.get("warmup_start_factor", o.warmup_start_factor);
  r.get("milestones", o.milestones);
  r.get("gamma", o.gamma);
  r.get("log_interval", o.log_interval);
  r.get("sync_bn", o.sync_bn);
  r.finish();
  if (o.epochs < 1) r.fail_field("epochs", "must be >= 1");
  if (o.batch_size < 1) r.fail_field("batch_size", "must be >= 1");
  if (o.optimizer != "adam" && o.optimizer != "adamw") {
    r.fail_field("optimizer", "expected \"adam\" or \"adamw\", got \"" + o.optimizer + "\"");
  }
  if (o.log_interval < 1) r.fail_field("log_interval", "must be >= 1");
}

void read_eval(pose::ConfigReader r, EvalConfig& e) {
  r.get("interval", e.interval);
  r.get("batch_size", e.batch_size);
  r.get("flip_test", e.flip_test);
  r.finish();
  if (e.interval < 0) r.fail_field("interval", "must be >= 0");
  if (e.batch_size < 1) r.fail_field("batch_size", "must be >= 1");
}

}  // namespace

nn::LrSchedule TrainConfig::lr_schedule() const {
  nn::LrSchedule s;
  s.base_lr = optim.lr;
  s.decay = nn::LrDecay::MultiStep;
  s.milestones = optim.milestones;
  s.gamma = optim.gamma;
  s.warmup_iters = optim.warmup_iters;
  s.warmup_start_factor = optim.warmup_start_factor;
  return s;
}

nlohmann::json TrainConfig::to_json() const {
  const data::AugmentConfig& a = topdown.aug;
  const pose::HeatmapCodec& c = topdown.codec;
  nlohmann::json j;
  j["model"] = model;
  j["data"] = {{"root", data.root},
               {"train_annotations", data.train_annotations},
               {"val_annotations", data.val_annotations},
               {"train_images", data.train_images},
               {"val_images", data.val_images},
               {"val_boxes", data.val_boxes},
               {"workers", data.workers}};
  j["codec"] = {{"encoding", pose::encoding_name(c.encoding)},
                {"sigma", c.sigma},
                {"decoding", c.decoding == pose::HeatmapDecoding::Dark ? "dark" : "shift"},
                {"heatmap_size", {c.heatmap_h, c.heatmap_w}},
                {"blur_kernel", c.blur_kernel}};
  // Only Megvii reads its kernel sizes; the other encodings' records stay as they were.
  if (c.encoding == pose::HeatmapEncoding::Megvii) j["codec"]["kernel_sizes"] = c.kernel_sizes;
  j["augment"] = {{"enabled", topdown.augment},
                  {"flip_prob", a.flip_prob},
                  {"half_body_prob", a.half_body_prob},
                  {"half_body_min_total", a.half_body_min_total},
                  {"half_body_min_upper", a.half_body_min_upper},
                  {"half_body_min_lower", a.half_body_min_lower},
                  {"half_body_padding", a.half_body_padding},
                  {"upper_prioritized_prob", a.upper_prioritized_prob},
                  {"shift_factor", a.shift_factor},
                  {"shift_prob", a.shift_prob},
                  {"scale_min", a.scale_min},
                  {"scale_max", a.scale_max},
                  {"scale_prob", a.scale_prob},
                  {"rotate_factor", a.rotate_factor},
                  {"rotate_prob", a.rotate_prob}};
  j["train"] = {{"epochs", optim.epochs},
                {"batch_size", optim.batch_size},
                {"optimizer", optim.optimizer},
                {"lr", optim.lr},
                {"weight_decay", optim.weight_decay},
                {"warmup_iters", optim.warmup_iters},
                {"warmup_start_factor", optim.warmup_start_factor},
                {"milestones", optim.milestones},
                {"gamma", optim.gamma},
                {"log_interval", optim.log_interval}};
  // Written only when on, so that the records of runs from before the field stay as they were (a
  // resume compares them).
  if (optim.sync_bn) j["train"]["sync_bn"] = true;
  j["eval"] = {{"interval", eval.interval}, {"batch_size", eval.batch_size}, {"flip_test", eval.flip_test}};
  j["seed"] = seed;
  return j;
}

TrainConfig parse_train_config(const nlohmann::json& j, const std::string& path,
                               const std::vector<std::string>& own_fields) {
  TrainConfig c;
  c.path = path;
  pose::ConfigReader r(j, path);
  r.skip("model");
  for (const std::string& f : own_fields) r.skip(f);
  c.model = model_section(j, path);
  c.model_where = path + ": model";
  c.family = &family_of(c.model, c.model_where);
  c.facts = c.family->facts(c.model, c.model_where);

  const std::string sec = path + ": ";
  c.topdown.codec = model_codec(*c.family, c.model, c.model_where, r.section("codec"), sec + "codec");
  if (const auto* s = r.section("data")) read_data(pose::ConfigReader(*s, sec + "data"), c.data);
  if (const auto* s = r.section("augment")) read_augment(pose::ConfigReader(*s, sec + "augment"), c.topdown);
  if (const auto* s = r.section("train")) read_optim(pose::ConfigReader(*s, sec + "train"), c.optim);
  if (const auto* s = r.section("eval")) read_eval(pose::ConfigReader(*s, sec + "eval"), c.eval);
  int64_t seed = 0;
  r.get("seed", seed);
  if (seed < 0) r.fail_field("seed", "must be >= 0");
  c.seed = static_cast<uint64_t>(seed);
  r.finish();

  try {
    c.lr_schedule().validate();
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  return c;
}

TrainConfig read_train_config(const std::string& path) { return parse_train_config(pose::read_json_file(path), path); }

const std::vector<std::string>& supernet_own_fields() {
  static const std::vector<std::string> fields = {"search_space", "sandwich", "recalibration"};
  return fields;
}

void validate_run_config(const nlohmann::json& j, const std::string& path) {
  parse_train_config(j, path, j.contains("search_space") ? supernet_own_fields() : std::vector<std::string>{});
}

nlohmann::json read_model_config(const std::string& path, std::string* where) {
  const nlohmann::json j = pose::read_json_file(path);
  if (j.is_object() && j.contains("model") && !j.contains("type")) {
    validate_run_config(j, path);
    if (where) *where = path + ": model";
    return model_section(j, path);
  }
  if (where) *where = path;
  return j;
}

}  // namespace wb::tasks
