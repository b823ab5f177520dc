// Weight initialisers with torch.nn.init's formulas, drawing from an explicit wb::Generator (so
// a seed fixes a model's initial weights; the numbers differ from PyTorch's generator). Each fills
// the tensor in place, on whatever device it lives, without recording a graph.
//
// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field, receptive field =
// product of dims 2.. (torch's _calculate_fan_in_and_fan_out; for a transposed conv weight
// [in, out/g, kh, kw] this makes fan_in = out/g * kh * kw, as in PyTorch).
#pragma once
#include <cstdint>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace wb::nn::init {

enum class FanMode { FanIn, FanOut };
// The gain of torch.nn.init.calculate_gain: Linear 1, ReLU sqrt(2), LeakyReLU sqrt(2 / (1 + a^2)).
enum class Nonlinearity { Linear, ReLU, LeakyReLU };

struct Fans {
  int64_t fan_in = 0, fan_out = 0;
};
Fans fans(const Tensor& w);  // error naming the shape for fewer than 2 dims
double gain(Nonlinearity nl, double a = 0.0);

// N(0, std^2) with std = gain / sqrt(fan): torch.nn.init.kaiming_normal_. The defaults are
// mmcv's kaiming_init (mode fan_out, relu), which MMPose's ResNet and heads use.
void kaiming_normal_(Tensor& w, Generator& gen, FanMode mode = FanMode::FanOut, Nonlinearity nl = Nonlinearity::ReLU,
                     double a = 0.0);
// U(-bound, bound) with bound = gain * sqrt(3 / fan): torch.nn.init.kaiming_uniform_.
void kaiming_uniform_(Tensor& w, Generator& gen, FanMode mode = FanMode::FanIn,
                      Nonlinearity nl = Nonlinearity::LeakyReLU, double a = 0.0);
// N(mean, std^2); MMPose's heads and HRNet convs use std 0.001.
void normal_(Tensor& t, Generator& gen, double mean, double std);
void uniform_(Tensor& t, Generator& gen, double lo, double hi);
// Every element = value (BN: weight 1, bias 0; mmcv's last_zero_init: 0).
void constant_(Tensor& t, double value);

}  // namespace wb::nn::init
