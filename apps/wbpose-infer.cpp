// wbpose-infer: keypoints of the people in pictures, drawn on them (tasks/infer_run.h).
#include <CLI/CLI.hpp>
#include <iostream>

#include "tasks/infer_run.h"

int main(int argc, char** argv) {
  CLI::App app{"wbpose-infer: predict keypoints with a trained top-down model and draw them on the pictures"};
  wb::tasks::InferOptions o;
  std::string box, decode;
  app.add_option("--config", o.config, "model config (configs/*.json) or run config with \"model\"/\"codec\"")
      ->required();
  app.add_option("--checkpoint", o.checkpoint, "weights or training checkpoint (.safetensors), loaded strictly")
      ->required();
  app.add_option("--image", o.images, "an image file (repeat for several)");
  app.add_option("--images", o.images_dir, "a folder: every .png/.jpg/.jpeg in it");
  auto* boxes = app.add_option("--boxes", o.boxes,
                               "person boxes: {\"image name\": [[x, y, w, h(, score)], ...]}, COCO detection "
                               "results with --annotations, or a COCO annotations file (its people's bbox) "
                               "(default: the whole image)");
  app.add_option("--annotations", o.annotations, "COCO file mapping the image ids of COCO detection --boxes to files");
  auto* one_box = app.add_option("--box", box, "one person box x,y,w,h for every image");
  boxes->excludes(one_box);
  app.add_option("--box-threshold", o.min_box_score, "leave out --boxes scored below this")->capture_default_str();
  app.add_option("--out", o.out, "output picture (.png/.jpg, one image) or folder")->required();
  app.add_option("--json", o.json, "also write every person's keypoints here");
  app.add_option("--threshold", o.threshold, "keypoints scored below are not drawn")->capture_default_str();
  app.add_flag("--flip-test", o.flip_test, "average with the mirrored crop (MMPose's flip test)");
  app.add_option("--decode", decode, "keypoint decoding: argmax (+ quarter-pixel shift) or dark; default: config's")
      ->check(CLI::IsMember({"argmax", "dark"}));
  app.add_option("--device", o.device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--batch", o.batch_size, "crops per forward pass")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_flag("--profile", o.profile,
               "profile the prediction op by op: profile.txt, profile.json, trace.json and roofline.png in profile/ "
               "beside the pictures");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wbpose-infer: " << e.what() << "\n";
    return 2;
  }

  try {
    if (!box.empty()) o.box = wb::tasks::parse_box(box);
    if (decode == "argmax") o.decoding = wb::pose::HeatmapDecoding::Shift;
    if (decode == "dark") o.decoding = wb::pose::HeatmapDecoding::Dark;
    const wb::tasks::InferSummary s = wb::tasks::run_inference(o, std::cerr);
    std::cout << s.people << " people in " << s.images << " images; pictures: "
              << (s.pictures.size() == 1 ? s.pictures[0] : o.out) << "\n";
    if (!o.json.empty()) std::cout << "keypoints: " << o.json << "\n";
    if (o.profile) std::cout << "profile:\n" << s.profile_table;
  } catch (const std::exception& e) {
    std::cerr << "wbpose-infer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
