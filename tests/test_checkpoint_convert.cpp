// Checkpoints of MMPose's own models converted by scripts/convert_checkpoint.py
// (tests/reference/gen_convert.py): every family MMPose has (HRNet with the V1 and the V2 head,
// SimpleBaseline, MSPN, ViPNAS-Res50 and -MbV3), from MMPose 1.x's and 0.x's layouts and, for
// HRNet, the official code's; each loads strictly into the model our JSON config builds and
// reproduces MMPose's eval-mode heatmaps.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/node.h"
#include "tasks/family.h"
#include "tests/model_parity.h"
#include "tests/util.h"

using namespace wb;

TEST_CASE("checkpoints converted from MMPose 1.x, 0.x and the official HRNet load strictly and reproduce MMPose") {
  struct Case {
    const char* name;
    std::vector<std::string> formats;
  };
  const Case cases[] = {
      {"hrnet", {"mmpose1", "mmpose0", "official"}},
      {"hrnet_v2", {"mmpose1", "mmpose0"}},
      {"simplebaseline", {"mmpose1", "mmpose0"}},
      {"mspn", {"mmpose1", "mmpose0"}},
      {"vipnas_res50", {"mmpose1", "mmpose0"}},
      {"vipnas_mbv3", {"mmpose1", "mmpose0"}},
  };
  for (const Case& c : cases) {
    const std::string name = std::string("convert_") + c.name;
    CAPTURE(name);
    SafetensorsFile ref;
    if (!test::load_reference(name, ref)) return;
    const nlohmann::json config = nlohmann::json::parse(ref.metadata.at("config"));
    for (const std::string& fmt : c.formats) {
      CAPTURE(fmt);
      SafetensorsFile ckpt;
      REQUIRE(test::load_reference(name + "." + fmt, ckpt));
      auto model = tasks::build_family_model(config, name).model;
      model->load_state_dict(ckpt.tensors, true);
      model->eval();
      autograd::NoGradGuard no_grad;
      // Both sides in f32 (MMPose's forward by PyTorch, ours): measured at most 8.8e-7.
      WB_CHECK_ERROR(test::scaled_error((*model)(test::ref(ref, "input")), test::ref(ref, "output")), 1e-5,
                     "heatmaps");
    }
  }
}
