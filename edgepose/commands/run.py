"""``edgepose run`` (also ``python apps/webcam.py``): pose estimation on a camera, video, image or Pi camera.

Examples::

    edgepose run --model simdr_r50_128                      # camera 0, window
    edgepose run --model model_int8.onnx --source clip.mp4 --view none --save out.mp4 --save-json poses.jsonl
    edgepose run --model model.tflite --source picamera --threads 4
    edgepose run --model model.onnx --source photo.jpg --save out.png --save-json out.json  # COCO results
    edgepose run --model simdr_r50_128 --detector .peers/models/centernet_fp32.onnx  # COCO CenterNet

Without a display (no DISPLAY, or opencv-python-headless) ``--view window`` falls back
to saving (to ``--save`` or ``edgepose_out.mp4`` / ``.png``). Ctrl-C or SIGTERM stops
cleanly: the saved video is finalised and playable. A camera that stops delivering
frames is reopened with exponential back-off (``--reconnect-*``); corrupt frames are
skipped, and ``--max-bad-frames`` of them in a row end the run. The loop lives in
``edgepose.video``, the JSON output in ``edgepose.runtime.pose_json``.

A video file shows a progress bar on stderr (tqdm; not when stderr is not a terminal, nor
with ``--quiet``), and every run ends with a summary line: frames, people found per frame
and in total, speed.

Outputs are checked before any frame is processed: ``--view none`` with nothing to save,
a video or camera saved as an image, a ``--save``/``--save-json`` that is a folder or
cannot be written are each refused with one ``error:`` line.

Exit status: 0 when the run ended normally (end of file, q/Esc, Ctrl-C/SIGTERM,
``--max-frames``), 2 on bad arguments or model/source/output errors (one ``error:`` line),
3 when the source failed (camera gone after all reconnect attempts, or too many corrupt
frames); the saved files are finalised in every case.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from edgepose.cli import ArgumentParser, run_main
from edgepose.runtime.detect import MODEL_SUFFIXES, OUTPUT_FORMATS, Detector, ModelDetector, make_detector
from edgepose.errors import InputError, did_you_mean
from edgepose.runtime.estimator import Estimator
from edgepose.runtime.pose_json import PoseJsonWriter, coco_image_id
from edgepose.video import (
    IMAGE_SUFFIXES,
    SAMPLE_IMAGE,
    ReconnectPolicy,
    gui_available,
    open_sink,
    open_source,
    run_stream,
)

__all__ = ["USER_ERROR", "check_output_path", "main", "parse_args"]

logger = logging.getLogger("edgepose.apps.webcam")
USER_ERROR = 2  # exit status of a user error (argparse's usage errors exit 2 as well)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DETECTOR_NAMES = ("hog", "motion")


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    """The options of the run command (``prog``: the program name shown in usage lines)."""
    p = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="registry name (e.g. simdr_r50_128) or .onnx/.tflite/.xml file")
    p.add_argument("--source", default="0",
                   help="camera index, video file, image file, 'picamera', or 'sample' (the bundled image)")
    p.add_argument("--backend", choices=["onnxruntime", "tflite", "openvino"], help="default: from the file suffix")
    p.add_argument("--threads", type=int, help="runtime CPU threads")
    p.add_argument("--view", choices=["window", "none"], default="window")
    p.add_argument("--save", help="write the annotated result: out.mp4 / out.avi (video) or out.png / .jpg (image)")
    p.add_argument("--save-json", metavar="FILE",
                   help="write the poses: one JSON line per frame (time, boxes, keypoints, scores, track ids); "
                        "for a single image, COCO keypoint results")
    p.add_argument("--mode", choices=["full", "track", "detect"], help="default: track with a detector, else full")
    p.add_argument("--detector", help="'hog', 'motion' (static camera), or a detection model file (.onnx/.tflite/.xml),"
                                      " e.g. .peers/models/centernet_fp32.onnx made by apps/peers_setup.sh")
    p.add_argument("--detector-format", default="auto", choices=list(OUTPUT_FORMATS),
                   help="output format of a detector model file (default: from its outputs; see edgepose.runtime.detect)")
    p.add_argument("--no-smoothing", action="store_true", help="turn the One Euro filter off")
    p.add_argument("--threshold", type=float, help="keypoint score below which nothing is drawn (default: the "
                                                 "model's score threshold, see Estimator(score_threshold=...))")
    p.add_argument("--realtime", action="store_true", help="play video files at their frame rate")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--reconnect-attempts", type=int, default=5,
                   help="camera reconnect attempts per outage (0: stop at the first failure)")
    p.add_argument("--reconnect-delay", type=float, default=0.5, help="seconds before the first reconnect attempt")
    p.add_argument("--reconnect-max-delay", type=float, default=10.0,
                   help="longest wait between attempts (the wait doubles each attempt)")
    p.add_argument("--max-bad-frames", type=int, default=30, help="corrupt frames in a row that end the run")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no info lines (warnings, errors and the outputs only)")
    p.add_argument("--log-level", default="INFO", type=log_level, metavar="{debug,info,warning,error}",
                   help="how much to log (default info)")
    return p.parse_args(argv)


def log_level(text: str) -> str:
    """``--log-level`` value (any case) -> the ``logging`` level name; argparse's error otherwise."""
    if text.upper() in LOG_LEVELS:
        return text.upper()
    hint = did_you_mean(text.lower(), [level.lower() for level in LOG_LEVELS])
    raise argparse.ArgumentTypeError(f"{text!r} is not a log level{hint} (choose from "
                                     f"{', '.join(level.lower() for level in LOG_LEVELS)})")


def make_run_detector(spec: str | None, output_format: str) -> Detector | None:
    """The ``--detector`` value as a detector: 'hog', 'motion', or a detection model file (``~`` expanded).

    Raises:
        InputError: a name that is none of these (with the closest of 'hog'/'motion'), or a missing file.
    """
    if spec is None or spec in DETECTOR_NAMES:
        return make_detector(spec)
    path = Path(spec).expanduser()
    if path.suffix.lower() in MODEL_SUFFIXES:
        if not path.is_file():
            raise InputError(f"--detector {spec}: no such detection model file")
        return ModelDetector(path, output_format)
    raise InputError(f"--detector {spec} is neither {', '.join(map(repr, DETECTOR_NAMES))} nor a detection model file "
                     f"({'/'.join(MODEL_SUFFIXES)}){did_you_mean(spec, DETECTOR_NAMES)}")


def check_output_path(option: str, value: str) -> Path:
    """Refuse an output path that is a folder or cannot be written, before any frame is processed.

    The folder is created if missing (as the sinks do) and a probe file is created and removed in it.

    Raises:
        InputError: ``"--save outdir/ is a folder; ..."``, ``"cannot write --save x.png: ..."``.
    """
    path = Path(value).expanduser()
    if value.endswith(("/", os.sep)) or path.is_dir():
        example = (f"{path / 'poses.json'}" if option == "--save-json"
                   else f"{path / 'out.mp4'} (video) or {path / 'out.png'} (image)")
        raise InputError(f"{option} {value} is a folder; give a file name in it, e.g. {option} {example}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(f"{path} is read-only")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot write {option} {value}: {reason}") from None
    return path


def _main(argv: Sequence[str] | None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    logging.basicConfig(level="WARNING" if args.quiet else args.log_level, format="%(levelname)s %(name)s: %(message)s")
    if args.view == "none" and not (args.save or args.save_json):
        raise InputError("--view none writes nothing: add --save out.mp4 (or out.png for an image) "
                         "and/or --save-json poses.json")
    policy = ReconnectPolicy(args.reconnect_attempts, args.reconnect_delay, args.reconnect_max_delay)
    for option, value in (("--save", args.save), ("--save-json", args.save_json)):
        if value:
            check_output_path(option, value)
    source = open_source(args.source)
    sink = json_out = None
    try:
        if args.save and source.kind != "image" and Path(args.save).suffix.lower() in IMAGE_SUFFIXES:
            raise InputError(f"--source {args.source} is a {source.kind}: --save {args.save} would keep only its "
                             f"last frame; save it as .mp4 or .avi")
        detector = make_run_detector(args.detector, args.detector_format)
        mode = args.mode or ("track" if detector is not None else "full")
        with Estimator(args.model, backend=args.backend,
                       running_mode="image" if source.kind == "image" else "video", threads=args.threads, mode=mode, detector=detector,
                       smoothing=None if args.no_smoothing else "auto", score_threshold=args.threshold) as estimator:
            view = args.view == "window"  # decided once the model loads: a model error stays the only line
            if view:
                ok, why = gui_available()
                if not ok:
                    view = False
                    if args.save is None:
                        args.save = "edgepose_out.png" if source.kind == "image" else "edgepose_out.mp4"
                    logger.warning("cannot open a window: %s; saving to %s instead", why, args.save)
            sink = open_sink(args.save, source.fps) if args.save else None
            if args.save_json:
                image = source.kind == "image"
                image_path = SAMPLE_IMAGE if args.source == "sample" else args.source
                json_out = PoseJsonWriter(args.save_json, single_image=image,
                                          image_id=coco_image_id(image_path) if image else 0)
            stats = run_stream(estimator, source, sink=sink, view=view, threshold=estimator.score_threshold,
                               realtime=args.realtime, max_frames=args.max_frames, reconnect=policy,
                               max_bad_frames=args.max_bad_frames,
                               on_result=json_out.write if json_out is not None else None,
                               progress=source.kind == "video" and not args.quiet and sys.stderr.isatty())
    except KeyboardInterrupt:  # Ctrl-C before the stream loop took over SIGINT
        logger.info("interrupted")
        return 130
    finally:  # run_stream closes source and sink; this covers failures before it (all are safe to close twice)
        if sink is not None:
            sink.close()
        if json_out is not None:
            json_out.close()
        source.close()
    logger.info("%s", stats.summary())
    return 3 if stats.reason in ("disconnected", "corrupt") else 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command; a user error prints one ``error:`` line and returns :data:`USER_ERROR`."""
    return run_main(lambda a: _main(a, prog), argv, exit_code=USER_ERROR)
