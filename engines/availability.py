"""What this machine can run: the extras installed, torch devices, onnxruntime providers, TensorRT flavours.
Never raises; imports torch only where it is installed."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from percept.core.devices import cuda_available, native_bf16_cpu, threads, torch_installed
from percept.core.extras import install_hint

# The extras and the package whose presence says each is installed (pyproject.toml's optional dependencies).
EXTRAS = {"train": "torch", "eval": "lpips", "video": "av", "heif": "pillow_heif", "ray": "ray",
          "onnxruntime": "onnxruntime", "png": "imagecodecs", "tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx"}


@dataclass(frozen=True)
class Component:
    name: str
    available: bool
    detail: str


def cuda_devices() -> list[str]:
    if not cuda_available():
        return []
    import torch

    out = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        out.append(f"cuda:{i} {p.name} (sm_{p.major}{p.minor}, {p.total_memory / 2**30:.0f} GiB)")
    return out


def onnxruntime_providers() -> list[str]:
    try:
        import onnxruntime as ort

        return list(ort.get_available_providers())
    except Exception:
        return []


def tensorrt_module(flavour: str):
    """Import ``tensorrt`` or ``tensorrt_rtx``; None when it is not installed or does not load."""
    try:
        return importlib.import_module(flavour)
    except Exception:
        return None


def extras() -> dict[str, bool]:
    """Which of percept's extras are installed here."""
    return {extra: importlib.util.find_spec(module) is not None for extra, module in EXTRAS.items()}


def components() -> list[Component]:
    present = extras()
    items = [Component("extras", True, ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in present.items()))]
    bf16 = "yes" if native_bf16_cpu() else "no"
    if torch_installed():
        import torch

        items.append(Component("torch", True, f"{torch.__version__}, {threads()} CPU threads, CPU bf16 {bf16}"))
    else:
        items.append(Component("torch", False, f"not installed: running models needs none; training, export, "
                               f"eval-sr and --backend torch do ({install_hint('train')})"))
    gpus = cuda_devices()
    items.append(Component("CUDA", bool(gpus), "; ".join(gpus) if gpus else "no CUDA GPU visible"))
    try:
        import onnxruntime as ort

        items.append(Component("onnxruntime", True, f"{ort.__version__}: {', '.join(onnxruntime_providers())}"))
    except Exception as exc:
        items.append(Component("onnxruntime", False, f"not installed: a second CPU runtime, not needed "
                               f"({install_hint('onnxruntime')})" if isinstance(exc, ImportError)
                               else f"not importable ({exc})"))
    try:
        from percept.engines.openvino_runtime import openvino_module

        openvino = openvino_module()
        if openvino is None:
            raise ImportError("no module named openvino")

        from percept.engines.openvino_runtime import native_bf16

        items.append(Component("openvino", True, f"{openvino.__version__.split('-')[0]}: CPU, bf16 "
                               f"{'native (the CPU default)' if native_bf16() else 'not native (fp32 only)'}"))
    except Exception as exc:
        items.append(Component("openvino", False, f"not importable ({exc}); pip install openvino"))
    for flavour, extra in (("tensorrt", "tensorrt"), ("tensorrt_rtx", "tensorrt-rtx")):
        mod = tensorrt_module(flavour)
        if mod is None:
            items.append(Component(flavour, False, f"not installed ({install_hint(extra)})"))
        else:
            items.append(Component(flavour, True, getattr(mod, "__version__", "unknown version")))
    try:
        import pillow_heif

        items.append(Component("HEIC/HEIF", True, f"pillow-heif {pillow_heif.__version__}"))
    except ImportError:
        items.append(Component("HEIC/HEIF", False, f"iPhone photos need pillow-heif ({install_hint('heif')})"))
    from PIL import features

    avif = bool(features.check("avif"))
    items.append(Component("AVIF", avif, "Pillow's own codec" if avif
                           else "this Pillow has no AVIF codec (Pillow >= 11.3 wheels include it)"))
    return items
