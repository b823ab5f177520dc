"""The reference side of tests/model_parity.h: one of MMPose's own models (a TopdownPoseEstimator
that mmpose_ref built) with seeded random weights and an input screened away from the kinks of its
activations; from them, in f64 from the f32 weights, its heatmaps, the loss of its own training
path (TopdownPoseEstimator.loss: extract_feat, then head.loss) and every parameter gradient of
that loss, in eval mode and in training mode. The oracle runs in f64 from the f32 weights, so a
comparison measures only the f32 error of the implementation under test.
"""
import copy

import torch
import torch.nn as nn

# The weights and input are redrawn until no activation input of the f64 eval-mode forward lies
# within KINK_MARGIN of a kink of that activation (ReLU's 0, ReLU6's 0 and 6, HSwish's +-3, an
# HSigmoid's two corners): f32 rounding (up to about 1e-6 on these activations of order one) could
# put such a value on the other side and change that pixel's gradient path outright, a flip that
# moves every gradient upstream of it by up to percents and would swamp the rounding error that
# the f32 eval-mode gradient test measures. Typical draws have some ReLU input within 1e-6 of
# zero; about one in three has none within 3e-6. (Training mode is not screened: its f32 check
# stays loose, see tests/model_parity.h.)
KINK_MARGIN = 3e-6


def randomize(model, g):
    """Weights that keep eval-mode activations of order one: He-scaled convs (a transposed conv's
    fan-in counted per output pixel), BN affines and running statistics and LayerNorm affines away
    from their identity values (so that eval mode is tested)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / m.weight[0].numel()) ** 0.5)
            elif isinstance(m, nn.ConvTranspose2d):
                fan_in = m.in_channels // m.groups * m.weight[0, 0].numel() / (m.stride[0] * m.stride[1])
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def kinks():
    """Module type -> the input values where its derivative jumps (mmcv's HSigmoid per instance)."""
    from mmcv.cnn.bricks.hsigmoid import HSigmoid
    return [(nn.ReLU, lambda m: (0.0,)), (nn.ReLU6, lambda m: (0.0, 6.0)), (nn.Hardswish, lambda m: (-3.0, 3.0)),
            (HSigmoid, lambda m: (-m.bias, m.divisor - m.bias))]


def kink_margin(model, x):
    """The smallest distance of any activation module's input in model(x) (tensor mode) from a kink
    of that activation. MMPose's models apply every activation through a module (nn.ReLU, mmcv's
    activations), so a pre-hook on each sees every input."""
    smallest = [float("inf")]
    hooks = []
    table = kinks()
    for m in model.modules():
        for kind, points in table:
            if isinstance(m, kind):
                def hook(mod, inputs, points=points(m)):
                    t = inputs[0].detach()
                    smallest[0] = min([smallest[0]] + [(t - p).abs().min().item() for p in points])
                hooks.append(m.register_forward_pre_hook(hook))
                break
    try:
        with torch.no_grad():
            model(x, None)
    finally:
        for h in hooks:
            h.remove()
    return smallest[0]


def screened_draw(model, shape, seed):
    """Randomizes `model` in place and draws an input of `shape`, from the generator seeded `seed`,
    then `seed + 1000`, ..., until the draw passes the screening above. Returns the input (f32) and
    the generator, for the draws that follow."""
    for attempt in range(200):
        g = torch.Generator().manual_seed(seed + 1000 * attempt)
        randomize(model, g)
        x = torch.randn(shape, generator=g).float()
        if kink_margin(copy.deepcopy(model).double().eval(), x.double()) >= KINK_MARGIN:
            return x, g
    raise RuntimeError("no draw with a kink margin of %g in 200 attempts" % KINK_MARGIN)


def state_of(model):
    """The state_dict as a checkpoint holds it: floating tensors as f32, integer ones
    (num_batches_tracked) as they are, since a strict load checks dtypes."""
    return {k: v.detach().clone().float() if v.is_floating_point() else v.detach().clone()
            for k, v in model.state_dict().items()}


def heatmap_samples(targets, weights):
    """PoseDataSamples as MMPose's pipeline packs single-level heatmap targets: gt_fields.heatmaps
    [K, h, w], gt_instance_labels.keypoint_weights [1, K]."""
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    out = []
    for n in range(targets.shape[0]):
        d = PoseDataSample()
        d.gt_fields = PixelData(heatmaps=targets[n])
        d.gt_instance_labels = InstanceData(keypoint_weights=weights[n][None])
        out.append(d)
    return out


def parity_case(model, input_size, batch, seed):
    """Tensors for tests/model_parity.h's check_parity of a single-heatmap MMPose model (HeatmapHead,
    ViPNASHead), keyed as it reads them:
    - the state_dict (f32, MMPose's names), so that the file loads as a checkpoint;
    - input [N,3,H,W], target [N,K,h,w], target_weight [N,K];
    - output: eval-mode heatmaps; train_output, loss: training-mode heatmaps and the loss of
      MMPose's training path (its head's loss_module, KeypointMSELoss(use_target_weight=True) in
      every config used here), one training step whose BN updates give after.<buffer>;
    - grad.<param>: d loss / d param;
    - eval_loss, eval_grad.<param>: the same loss and gradients with BN in eval mode (the running
      statistics as constants), where f32 rounding is not amplified through the batch statistics.
    """
    h, w = input_size
    x, g = screened_draw(model, (batch, 3, h, w), seed)
    state = state_of(model)
    model = model.double().eval()
    xd = x.double()
    with torch.no_grad():
        out_eval = model(xd, None)
    k = out_eval.shape[1]
    target = torch.rand(out_eval.shape, generator=g)
    weight = (torch.rand(batch, k, generator=g) > 0.2).double() * torch.rand(batch, k, generator=g).double()
    samples = heatmap_samples(target.double(), weight)
    params = dict(model.named_parameters())
    eval_loss = model(xd, samples, mode="loss")["loss_kpt"]
    eval_grads = torch.autograd.grad(eval_loss, list(params.values()))
    model.train()
    with torch.no_grad():
        out_train = copy.deepcopy(model)(xd, None)  # a copy: the original's BN takes one step only
    loss = model(xd, samples, mode="loss")["loss_kpt"]
    grads = torch.autograd.grad(loss, list(params.values()))
    t = dict(state)
    t.update({"input": x, "target": target.float(), "target_weight": weight.float(),
              "output": out_eval.float(), "train_output": out_train.float(), "loss": loss.detach().float(),
              "eval_loss": eval_loss.detach().float()})
    for name, gr, ge in zip(params, grads, eval_grads):
        t["grad." + name] = gr.float()
        t["eval_grad." + name] = ge.float()
    for name, buf in model.named_buffers():
        if name in state and buf.dtype.is_floating_point:
            t["after." + name] = buf.float()  # running statistics after the training step
    return t
