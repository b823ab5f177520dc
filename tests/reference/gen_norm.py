"""References for batch norm: several training steps (outputs, gradients, running statistics) and
evaluation mode, with and without the fused ReLU, in f64 and f32.

Each case <name> stores <name>.params = [momentum, eps, relu, steps], the parameters gamma/beta,
the initial running statistics rm0/rv0, per step s the input x.s, upstream gradient dy.s and the
expected y.s, dx.s, dgamma.s, dbeta.s, and the running statistics rm/rv after the last step.
"""
import torch
import torch.nn.functional as F

from st import save

# name, dtype, input shape, momentum, eps, relu, training, steps
CASES = [
    ("train", torch.float64, (3, 4, 5, 6), 0.1, 1e-5, False, True, 3),
    ("train_relu", torch.float64, (1, 3, 4, 5), 0.3, 1e-3, True, True, 3),
    ("train_2d", torch.float64, (7, 5), 0.1, 1e-5, False, True, 3),
    ("train_f32", torch.float32, (3, 8, 16, 16), 0.1, 1e-5, False, True, 3),
    ("train_relu_f32", torch.float32, (2, 6, 9, 7), 0.2, 1e-5, True, True, 3),
    ("eval", torch.float64, (3, 4, 5, 6), 0.1, 1e-5, False, False, 1),
    ("eval_relu", torch.float64, (1, 3, 4, 5), 0.1, 1e-5, True, False, 1),
    ("eval_f32", torch.float32, (3, 8, 16, 16), 0.1, 1e-5, True, False, 1),
]


def generate(out):
    g = torch.Generator().manual_seed(7)
    t = {}
    for name, dtype, shape, momentum, eps, relu, training, steps in CASES:
        c = shape[1]
        gamma = (torch.rand(c, generator=g, dtype=torch.float64) + 0.5).to(dtype)
        beta = (torch.randn(c, generator=g, dtype=torch.float64) * 0.3).to(dtype)
        rm = torch.randn(c, generator=g, dtype=torch.float64).to(dtype)
        rv = (torch.rand(c, generator=g, dtype=torch.float64) + 0.5).to(dtype)
        t[name + ".params"] = torch.tensor([momentum, eps, float(relu), float(steps)], dtype=torch.float64)
        t[name + ".gamma"], t[name + ".beta"] = gamma.clone(), beta.clone()
        t[name + ".rm0"], t[name + ".rv0"] = rm.clone(), rv.clone()
        for s in range(steps):
            # An offset mean and a non-unit spread make the statistics matter (and, in f32, test
            # that they are accumulated without cancellation).
            x = (torch.randn(shape, generator=g, dtype=torch.float64) * 2.0 + 3.0).to(dtype).requires_grad_(True)
            gm, bt = gamma.clone().requires_grad_(True), beta.clone().requires_grad_(True)
            y = F.batch_norm(x, rm, rv, gm, bt, training=training, momentum=momentum, eps=eps)
            if relu:
                y = F.relu(y)
            dy = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
            dx, dgamma, dbeta = torch.autograd.grad(y, [x, gm, bt], dy)
            p = "%s.%d." % (name, s)
            t[p + "x"], t[p + "dy"], t[p + "y"] = x, dy, y
            t[p + "dx"], t[p + "dgamma"], t[p + "dbeta"] = dx, dgamma, dbeta
        t[name + ".rm"], t[name + ".rv"] = rm, rv
    save(t, out + "/norm.safetensors")
