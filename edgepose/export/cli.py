"""Argument handling shared by the quantization/ command-line tools."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

from edgepose.cli import ArgumentParser, run_main  # re-exported: the quantization tools import them from here
from edgepose.errors import InputError
from edgepose.train.rebuild import LoadedModel, load_torch_model

__all__ = ["ArgumentParser", "add_model_args", "check_model_args", "model_from_args", "setup_logging", "run_main"]

logger = logging.getLogger(__name__)


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint CKPT`` or ``--model NAME [--weights FILE | --random-init]``."""
    group = parser.add_argument_group("model (a checkpoint, or a registry name with weights)")
    source = group.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="training checkpoint {'model', 'spec', 'config'} (.pt, or compact .xz)")
    source.add_argument("--model", help="registry name, e.g. simdr_r50_128 (needs --weights or --random-init)")
    weights = group.add_mutually_exclusive_group()
    weights.add_argument("--weights", help="state_dict file for --model")
    weights.add_argument("--random-init", action="store_true", help="random weights (tests, latency only)")


#: model files the runtime reads (not checkpoints): suffix -> what the file is
MODEL_FILE_KINDS = {".onnx": "an ONNX model", ".tflite": "a TFLite model", ".xml": "an OpenVINO IR model"}


def check_model_args(args: argparse.Namespace) -> None:
    """The user errors of :func:`add_model_args` options, in their own terms, before torch loads anything.

    Raises:
        InputError: ``--model`` without ``--weights``/``--random-init``, a missing or folder
            ``--checkpoint``/``--weights``, or an exported model file given as ``--checkpoint``/``--weights``.
    """
    if args.model is not None and args.weights is None and not args.random_init:
        raise InputError(f"--model {args.model} needs --weights FILE (a state_dict .pth/.pt) or --random-init "
                         "(random weights: tests and latency only)")
    for option, value in (("--checkpoint", args.checkpoint), ("--weights", args.weights)):
        if value is None:
            continue
        path = Path(value).expanduser()
        kind = MODEL_FILE_KINDS.get(path.suffix.lower())
        if kind is not None:
            raise InputError(f"{option} {value} is {kind} file, not a training checkpoint: {option} takes a .pt "
                             "(or compact .xz) file written by training/train.py; run the exported file with "
                             f"edgepose run --model {value}, or turn it back into a checkpoint with "
                             "training/recover.py")
        if not path.exists():
            raise InputError(f"{option} {value} does not exist")
        if path.is_dir():
            raise InputError(f"{option} {value} is a folder; give the checkpoint file in it (e.g. "
                             f"{path / 'best.pt'})")


def model_from_args(args: argparse.Namespace) -> LoadedModel:
    """Load the model named by :func:`add_model_args` options (checked first by :func:`check_model_args`)."""
    check_model_args(args)
    weights = None if args.weights is None else Path(args.weights).expanduser()
    checkpoint = None if args.checkpoint is None else Path(args.checkpoint).expanduser()
    return load_torch_model(checkpoint=checkpoint, name=args.model, weights=weights, random_init=args.random_init)


#: loggers whose INFO lines are the steps of a quantization/ tool (the model loaded, the calibration
#: crops, each file exported, the score threshold); edgepose's other INFO lines are detail (``-v``)
STEP_LOGGERS = ("edgepose.export.pipeline", "edgepose.train.rebuild", "edgepose.export.calibration",
                "edgepose.export.verify", "ship")
#: third-party Python loggers quietened to WARNING even with ``-v`` (their DEBUG output is of no use here)
THIRD_PARTY = ("torch", "nncf", "litert_torch", "absl", "jax", "onnxscript", "onnx_ir", "ai_edge_quantizer", "torchao")
#: environment of the native (C++) loggers of TensorFlow/LiteRT, glog and torch: errors only
QUIET_NATIVE_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GLOG_minloglevel": "2", "TORCH_CPP_LOG_LEVEL": "ERROR"}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StepFilter(logging.Filter):
    """Passes the steps (:data:`STEP_LOGGERS` at INFO), edgepose's warnings, and anyone's errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        if record.name == "edgepose" or record.name.startswith("edgepose."):
            return record.levelno >= logging.WARNING or record.name.startswith(STEP_LOGGERS)
        return record.name.startswith(STEP_LOGGERS) and record.levelno >= logging.INFO


def native_output_aside() -> Path:
    """Send what native libraries write to file descriptor 2 to a file; Python's ``sys.stderr`` stays on the console.

    TensorFlow's absl and LiteRT print start-up lines straight to the process's stderr, past every
    Python logging setting and environment switch. Here descriptor 2 becomes a file in the temporary
    folder (its path is returned, e.g. for a crash report) while ``sys.stderr`` becomes a copy of the
    original descriptor, so log lines, ``error:`` lines and tracebacks still reach the console.
    Call once, at the start of a program of its own (never in a host such as pytest).
    """
    sys.stderr.flush()
    console = os.fdopen(os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    fd, path = tempfile.mkstemp(prefix="edgepose-native-", suffix=".log")
    os.dup2(fd, 2)
    os.close(fd)
    sys.stderr = console
    atexit.register(Path(path).unlink, missing_ok=True)  # kept only when the process dies abnormally
    return Path(path)


def setup_logging(verbose: bool) -> None:
    """Logging of a quantization/ tool: one line per step by default, everything with ``verbose``.

    By default the console shows only the lines :class:`StepFilter` passes (the result table is
    printed on stdout by the tool); Python warnings raised outside edgepose are ignored, the
    native loggers of TensorFlow/LiteRT, glog and torch are set to errors only
    (:data:`QUIET_NATIVE_ENV`, read when those libraries load), and what native code writes to
    the process's stderr anyway (absl's and LiteRT's start-up lines) is set aside
    (:func:`native_output_aside`). With ``verbose`` every logger prints at DEBUG, the third-party
    ones at INFO, and native output reaches the console.

    Only handlers made here are filtered, and only when the root logger has none yet (a program
    of its own): a host that already logs (pytest's capture handlers) keeps its handlers as they
    are. The nncf logger gets a level, never :func:`nncf.set_log_level` (which would also set the
    level of every handler attached to it, pytest's shared ones included).
    """
    root = logging.getLogger()
    if not root.handlers:
        if not verbose:
            native_output_aside()
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
        if not verbose:
            handler.addFilter(StepFilter())
        root.addHandler(handler)
        root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in THIRD_PARTY:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    if not verbose:
        # nncf and torch log through handlers of their own too (nncf to stdout, which carries the
        # result table): their loggers' levels keep them to errors
        logging.getLogger("nncf").setLevel(logging.ERROR)
        logging.getLogger("torch").setLevel(logging.ERROR)
        for key, value in QUIET_NATIVE_ENV.items():
            os.environ.setdefault(key, value)
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=r"edgepose(\.|$)")
