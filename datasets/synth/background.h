// Backgrounds and camera effects of the synthetic images. Backgrounds are smooth colour fields with
// shapes and limb-like clutter (capsules in skin and clothing colours), so that a model cannot find
// people just by looking for capsules; effects (lighting, colour cast, blur, sensor noise) are
// applied to the finished picture and change no annotation.
#pragma once
#include "datasets/synth/canvas.h"
#include "datasets/synth/person.h"
#include "datasets/synth/random.h"

namespace wb::data::synth {

// Paints the whole canvas (tag kBackgroundTag); `scale` is the image's size relative to 640x480.
void paint_background(Canvas& canvas, Rng& r, Difficulty difficulty, float scale);

// Lighting gradient, contrast and colour cast, then maybe a blur, then noise; in place.
void apply_camera_effects(Image& image, Rng& r, Difficulty difficulty);

}  // namespace wb::data::synth
