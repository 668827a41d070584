"""The torch-free runtime: frames in, poses out, with numpy, OpenCV and one inference runtime.

``estimator`` (with ``options`` and ``result``), ``backends/`` (ONNX Runtime, LiteRT, OpenVINO),
model files and their metadata (``model_info``, ``metadata``, ``metadata_json``), person boxes
(``detect``, ``track``), ``smooth``, ``draw``, ``pose_json`` and ``timing``. It builds on the numpy
core (``edgepose.errors``, ``skeleton``, ``geometry``, ``preprocess``, ``codecs``, ``zoo``, ...) and
never imports torch, torchvision, nncf, tensorflow or pycocotools (tests/test_import_guard.py).
The public names are re-exported by ``edgepose`` itself: ``from edgepose import Estimator``.
"""
