"""Export and quantization of pose models (torch, litert-torch, NNCF; not part of the runtime).

* :func:`export_onnx` - fp32 ONNX (dynamo exporter, opset >= 17, dynamic batch);
* :func:`export_tflite` - fp32 / fp16 TFLite through litert-torch (NHWC input, batch 1);
* :func:`quantize_onnx` - int8 ONNX (NNCF post-training quantization, QDQ);
* :func:`quantize_tflite` - int8 TFLite (litert-torch PT2E quantizer calibrated by NNCF);
* :func:`load_torch_model` - rebuild a model from a checkpoint or a registry name;
* :func:`coco_person_crops` - calibration / validation crops with the runtime preprocessing.

Every file carries edgepose metadata (its fields: ``edgepose.runtime.metadata``; read and
written in the files by ``edgepose.export.model_files``) and is written atomically.

The names above are imported from their modules on first use, so that the torch-free modules of
this folder (``model_files``, ``onnx_wire``, ``tflite_ops``) can be imported without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgepose.export.calibration import CocoCrops, coco_person_crops
    from edgepose.export.errors import CalibrationError, ExportError
    from edgepose.export.onnx_export import export_onnx
    from edgepose.export.quantize import QuantOptions, quantize_onnx, quantize_tflite
    from edgepose.export.tflite_export import export_tflite
    from edgepose.train.rebuild import LoadedModel, load_checkpoint, load_named_model, load_torch_model

#: public name -> the module that defines it
_HOMES: dict[str, str] = {
    "CocoCrops": "edgepose.export.calibration", "coco_person_crops": "edgepose.export.calibration",
    "CalibrationError": "edgepose.export.errors", "ExportError": "edgepose.export.errors",
    "export_onnx": "edgepose.export.onnx_export", "export_tflite": "edgepose.export.tflite_export",
    "QuantOptions": "edgepose.export.quantize", "quantize_onnx": "edgepose.export.quantize",
    "quantize_tflite": "edgepose.export.quantize",
    "LoadedModel": "edgepose.train.rebuild", "load_checkpoint": "edgepose.train.rebuild",
    "load_named_model": "edgepose.train.rebuild", "load_torch_model": "edgepose.train.rebuild",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    """``edgepose.export.<name>``: the public name, imported from its module (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'edgepose.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
