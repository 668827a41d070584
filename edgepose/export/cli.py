"""Argument handling shared by the quantization/ command-line tools."""

from __future__ import annotations

import argparse
import logging

from edgepose.cli import run_main  # re-exported: the quantization tools import it from here
from edgepose.train.rebuild import LoadedModel, load_torch_model

__all__ = ["add_model_args", "model_from_args", "setup_logging", "run_main"]

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


def model_from_args(args: argparse.Namespace) -> LoadedModel:
    """Load the model named by :func:`add_model_args` options."""
    return load_torch_model(checkpoint=args.checkpoint, name=args.model, weights=args.weights,
                            random_init=args.random_init)


def setup_logging(verbose: bool) -> None:
    """INFO (or DEBUG with ``verbose``) for edgepose; third-party loggers at WARNING."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for name in ("torch", "nncf", "litert_torch", "absl", "jax", "onnxscript", "ai_edge_quantizer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if not verbose:
        # nncf logs to stdout, which carries the result table. Only the logger's level is set:
        # nncf.set_log_level would also set the level of every handler attached to the nncf
        # logger, which can be handlers shared with the root logger (pytest attaches its own)
        logging.getLogger("nncf").setLevel(logging.ERROR)
