"""References for the optimizers (torch.optim) and the LR schedules (torch.optim.lr_scheduler).

Optimizers: three f64 parameters take STEPS steps on a fixed gradient sequence; parameter 2 has
no gradient (None) on steps 0 and 2, so its state starts late and its step count lags. The
learning rate changes between steps, as a schedule would change it. The configurations must
match kOptimCases in tests/test_optim.cpp.
"""
import torch

from st import save

STEPS = 4
SHAPES = [(3, 4), (5,), (2, 3)]
LR_FACTORS = [1.0, 0.5, 0.25, 2.0]
NO_GRAD = {(0, 2), (2, 2)}  # (step, parameter) pairs whose grad is None

CASES = {
    "sgd": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_wd": (torch.optim.SGD, dict(lr=0.1, weight_decay=0.1)),
    "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "sgd_dampening": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05)),
    "adam": (torch.optim.Adam, dict(lr=0.01)),
    "adam_wd": (torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adamw": (torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
}


def optimizer_refs(t, g):
    params0 = [torch.randn(s, generator=g, dtype=torch.float64) for s in SHAPES]
    grads = [[torch.randn(s, generator=g, dtype=torch.float64) for s in SHAPES] for _ in range(STEPS)]
    for i, p in enumerate(params0):
        t["param.%d" % i] = p
    for k in range(STEPS):
        for i in range(len(SHAPES)):
            if (k, i) not in NO_GRAD:
                t["grad.%d.%d" % (k, i)] = grads[k][i]
    t["lr_factors"] = torch.tensor(LR_FACTORS, dtype=torch.float64)

    for name, (cls, kw) in CASES.items():
        params = [p.clone().requires_grad_(True) for p in params0]
        opt = cls(params, foreach=False, **kw)
        for k in range(STEPS):
            opt.param_groups[0]["lr"] = kw["lr"] * LR_FACTORS[k]
            for i, p in enumerate(params):
                p.grad = None if (k, i) in NO_GRAD else grads[k][i].clone()
            opt.step()
            for i, p in enumerate(params):
                t["%s.param.%d.%d" % (name, k, i)] = p.detach().clone()
        for i, p in enumerate(params):
            for slot, v in opt.state[p].items():
                if slot == "step":
                    t["%s.state.%d.step" % (name, i)] = torch.tensor(float(v), dtype=torch.float64)
                elif v is not None:  # SGD without momentum keeps momentum_buffer = None
                    t["%s.state.%d.%s" % (name, i, slot)] = v


def lr_trace(opt, epochs, iters, per_iter, per_epoch):
    """The rate in force at every iteration, stepping the iteration and epoch schedulers in turn."""
    out = []
    for _ in range(epochs):
        for _ in range(iters):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            for s in per_iter:
                s.step()
        for s in per_epoch:
            s.step()
    return torch.tensor(out, dtype=torch.float64)


def schedule_refs(t):
    sched = torch.optim.lr_scheduler
    ipe, epochs = 7, 6
    t["sched.iters_per_epoch"] = torch.tensor([ipe], dtype=torch.int64)
    t["sched.epochs"] = torch.tensor([epochs], dtype=torch.int64)

    def fresh(lr):
        return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)

    # mmengine LinearLR(end=10) is PyTorch's LinearLR(total_iters=9); milestone 1 falls inside
    # the warm-up (iterations 7..9) so the two factors overlap.
    opt = fresh(5e-4)
    warm = sched.LinearLR(opt, start_factor=0.001, total_iters=9)
    steps = sched.MultiStepLR(opt, milestones=[1, 4], gamma=0.1)
    t["sched.multistep_warmup"] = lr_trace(opt, epochs, ipe, [warm], [steps])

    opt = fresh(1e-3)
    cos = sched.CosineAnnealingLR(opt, T_max=5, eta_min=1e-5)
    t["sched.cosine"] = lr_trace(opt, epochs, ipe, [], [cos])

    opt = fresh(2e-3)
    warm = sched.LinearLR(opt, start_factor=0.01, total_iters=11)
    cos = sched.CosineAnnealingLR(opt, T_max=epochs * ipe, eta_min=0.0)
    t["sched.cosine_iter_warmup"] = lr_trace(opt, epochs, ipe, [warm, cos], [])


def generate(out):
    g = torch.Generator().manual_seed(7)
    t = {}
    optimizer_refs(t, g)
    schedule_refs(t)
    save(t, out + "/optim.safetensors")
