"""The real MMPose 1.3.2 as the oracle for the families it has (HRNet, SimpleBaseline, MSPN, ViPNAS).

scripts/install-mmpose.sh puts MMPose and its pure-Python needs into .pydeps/mmpose (never over
Debian's packages); this module puts that folder on sys.path, stubs the compiled mmcv.ops that
mmcv-lite lacks (only MMPose's transformer heads import it), and builds models from MMPose's own
config files, which ship inside the wheel (mmpose/.mim/configs/...).
"""
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
    """MMPose's config with cfg.model.<key> replaced by the dicts given (merged one level deep),
    pretrained-weight init removed (nothing may be downloaded here)."""
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
