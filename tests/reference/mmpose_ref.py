"""The real MMPose 1.3.2 as the oracle for the families it has (HRNet, SimpleBaseline, MSPN, ViPNAS).

scripts/install-mmpose.sh puts MMPose and its pure-Python needs into .pydeps/mmpose (never over
Debian's packages); this module puts that folder on sys.path, stubs the compiled mmcv.ops that
mmcv-lite lacks (only MMPose's transformer heads import it), and builds models from MMPose's own
config files, which ship inside the wheel (mmpose/.mim/configs/...). build() gives MMPose's model
for one of our JSON model configs; each family's gen_*.py says how its fields map onto MMPose's.
"""
import contextlib
import importlib
import json
import os
import pathlib
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
MMPOSE_DIR = ROOT / ".pydeps" / "mmpose"


class MissingMMPose(RuntimeError):
    pass


def import_mmpose():
    """Imports mmpose from .pydeps/mmpose; MissingMMPose names the install script when absent."""
    if not (MMPOSE_DIR / "mmpose").is_dir():
        raise MissingMMPose("%s holds no MMPose: run scripts/install-mmpose.sh" % MMPOSE_DIR)
    if str(MMPOSE_DIR) not in sys.path:
        sys.path.insert(0, str(MMPOSE_DIR))
    if "mmcv.ops" not in sys.modules:
        stub = types.ModuleType("mmcv.ops")

        def _missing(*args, **kwargs):
            raise RuntimeError("mmcv.ops is a stub here (mmcv-lite has no compiled ops)")

        for name in ("DeformConv2d", "MultiScaleDeformableAttention", "batched_nms", "nms", "RoIPool",
                     "RoIAlign", "point_sample", "ModulatedDeformConv2d", "DeformConv2dPack",
                     "ModulatedDeformConv2dPack", "soft_nms", "box_iou_rotated"):
            setattr(stub, name, _missing)

        def _getattr(name):
            if name.startswith("__"):
                raise AttributeError(name)
            return _missing

        stub.__getattr__ = _getattr
        sys.modules["mmcv.ops"] = stub
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "0")
    import mmpose  # noqa: F401
    return mmpose


def config_path(relative):
    """A config shipped in the wheel, e.g. 'body_2d_keypoint/topdown_heatmap/coco/td-hm_mspn50_8xb32-210e_coco-256x192.py'."""
    import_mmpose()
    import mmpose
    path = pathlib.Path(mmpose.__file__).parent / ".mim" / "configs" / relative
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def load_config(relative, **model_overrides):
    """MMPose's config with the dicts given merged into cfg.model.<key> (key by key at every depth,
    mmengine's ConfigDict.update; anything else replaces the entry), pretrained-weight init removed
    (nothing may be downloaded here)."""
    import_mmpose()
    from mmengine.config import Config
    cfg = Config.fromfile(str(config_path(relative)))
    for key, value in model_overrides.items():
        if isinstance(value, dict) and key in cfg.model and isinstance(cfg.model[key], dict):
            cfg.model[key].update(value)
        else:
            cfg.model[key] = value
    cfg.model.backbone.pop("init_cfg", None)
    cfg.model.pop("init_cfg", None)
    return cfg


def init_model(cfg):
    """MMPose's own model for `cfg`, on the CPU, built by mmpose.apis.init_model."""
    import_mmpose()
    from mmpose.apis import init_model as mm_init_model
    from mmpose.utils import register_all_modules
    register_all_modules()
    return mm_init_model(cfg, None, device="cpu")


# The gen_*.py script whose build(cfg) maps our JSON config of each "type" onto MMPose's model.
BUILDERS = {"hrnet": "gen_hrnet", "simplebaseline": "gen_simplebaseline", "mspn": "gen_mspn",
            "vipnas_resnet": "gen_vipnas", "vipnas_mbv3": "gen_vipnas"}


def build(cfg):
    """MMPose's TopdownPoseEstimator for our JSON model config `cfg` (configs/*.json), by its type."""
    family = cfg.get("type")
    if family not in BUILDERS:
        raise KeyError("MMPose has no model for our type '%s' (it has %s)" % (family, ", ".join(sorted(BUILDERS))))
    return importlib.import_module(BUILDERS[family]).build(cfg)


def available(what):
    """Whether MMPose imports; if not, says loudly that `what` is skipped (the C++ tests then find no
    reference: skipped outside CI, failed under CI=true)."""
    try:
        import_mmpose()
    except MissingMMPose as e:
        print("*** SKIPPED the %s: %s ***" % (what, e))
        return False
    return True


def state_shapes(ours, config_path, shipped):
    """{name: shape} of the model our config `config_path` builds (`ours`), as JSON, for the names
    tests. When MMPose ships that model (`shipped`: our config file name -> MMPose's config), its own
    build must print the same as ours, and its state_dict is the one recorded."""
    model = ours
    if config_path.name in shipped:
        theirs = init_model(load_config(shipped[config_path.name]))
        if repr(theirs) != repr(ours):
            raise AssertionError("%s does not describe MMPose's %s" % (config_path, shipped[config_path.name]))
        model = theirs
    return json.dumps({k: list(v.shape) for k, v in model.state_dict().items()})


@contextlib.contextmanager
def no_init():
    """Layers keep torch.empty's memory: building a 120M-parameter model costs no arithmetic."""
    import torch.nn as nn
    saved = [(c, c.reset_parameters) for c in (nn.modules.conv._ConvNd, nn.modules.batchnorm._NormBase)]
    for c, _ in saved:
        c.reset_parameters = lambda self: None
    try:
        yield
    finally:
        for c, f in saved:
            c.reset_parameters = f


@contextlib.contextmanager
def one_thread():
    """PyTorch on one thread: the reference models' convolutions are so small that handing them to
    a second thread costs more than the work, and far more on a busy two-core machine, where that
    thread waits for a core (HRNet's references: 4 s on one thread, 24 s on two, beside a build)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
