"""Export and quantization of pose models (torch, litert-torch, NNCF; not part of the runtime).

* :func:`export_onnx` - fp32 ONNX (dynamo exporter, opset >= 17, dynamic batch);
* :func:`export_tflite` - fp32 / fp16 TFLite through litert-torch (NHWC input, batch 1);
* :func:`quantize_onnx` - int8 ONNX (NNCF post-training quantization, QDQ);
* :func:`quantize_tflite` - int8 TFLite (litert-torch PT2E quantizer calibrated by NNCF);
* :func:`load_torch_model` - rebuild a model from a checkpoint or a registry name;
* :func:`coco_person_crops` - calibration / validation crops with the runtime preprocessing.

Every file carries edgepose metadata (``edgepose.runtime.metadata``) and is written atomically.
"""

from __future__ import annotations

from edgepose.export.calibration import CocoCrops, coco_person_crops
from edgepose.train.rebuild import LoadedModel, load_checkpoint, load_torch_model, load_named_model
from edgepose.export.errors import CalibrationError, ExportError
from edgepose.export.onnx_export import export_onnx
from edgepose.export.quantize import QuantOptions, quantize_onnx, quantize_tflite
from edgepose.export.tflite_export import export_tflite

__all__ = [
    "CalibrationError", "CocoCrops", "ExportError", "LoadedModel", "QuantOptions",
    "coco_person_crops", "export_onnx", "export_tflite", "load_checkpoint", "load_torch_model",
    "load_named_model", "quantize_onnx", "quantize_tflite",
]
