"""Live pose estimation on a camera, a video file, an image or a Raspberry Pi camera.

Examples::

    python apps/webcam.py --model simdr_r50_128                      # camera 0, window
    python apps/webcam.py --model model_int8.onnx --source clip.mp4 --view none --save out.mp4
    python apps/webcam.py --model model.tflite --source picamera --threads 4
    python apps/webcam.py --model model.onnx --source photo.jpg --save out.png
    python apps/webcam.py --model simdr_r50_128 --detector .peers/models/centernet_fp32.onnx  # COCO CenterNet

Without a display (no DISPLAY, or opencv-python-headless) ``--view window`` falls back
to saving (to ``--save`` or ``edgepose_out.mp4`` / ``.png``). Ctrl-C or SIGTERM stops
cleanly: the saved video is finalised and playable. A camera that stops delivering
frames is reopened with exponential back-off (``--reconnect-*``); corrupt frames are
skipped, and ``--max-bad-frames`` of them in a row end the run. All logic lives in
``edgepose.video``; this file only parses arguments.

Exit status: 0 when the run ended normally (end of file, q/Esc, Ctrl-C/SIGTERM,
``--max-frames``), 2 on bad arguments or model/source errors, 3 when the source failed
(camera gone after all reconnect attempts, or too many corrupt frames); the saved file
is finalised in every case.
"""

from __future__ import annotations

import argparse
import logging
import sys

from edgepose import Estimator
from edgepose.detect import OUTPUT_FORMATS, ModelDetector, make_detector
from edgepose.errors import EdgeposeError
from edgepose.video import ReconnectPolicy, gui_available, open_sink, open_source, run_stream

logger = logging.getLogger("edgepose.apps.webcam")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="registry name (e.g. simdr_r50_128) or .onnx/.tflite/.xml file")
    p.add_argument("--source", default="0",
                   help="camera index, video file, image file, 'picamera', or 'sample' (the bundled image)")
    p.add_argument("--backend", choices=["onnxruntime", "tflite", "openvino"], help="default: from the file suffix")
    p.add_argument("--threads", type=int, help="runtime CPU threads")
    p.add_argument("--view", choices=["window", "none"], default="window")
    p.add_argument("--save", help="write the annotated result: out.mp4 / out.avi (video) or out.png / .jpg (image)")
    p.add_argument("--mode", choices=["full", "track", "detect"], help="default: track with a detector, else full")
    p.add_argument("--detector", help="'hog', 'motion' (static camera), or a detection model file (.onnx/.tflite/.xml),"
                                      " e.g. .peers/models/centernet_fp32.onnx made by apps/peers_setup.sh")
    p.add_argument("--detector-format", default="auto", choices=list(OUTPUT_FORMATS),
                   help="output format of a detector model file (default: from its outputs; see edgepose.detect)")
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
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        policy = ReconnectPolicy(args.reconnect_attempts, args.reconnect_delay, args.reconnect_max_delay)
        source = open_source(args.source)
    except EdgeposeError as exc:
        logger.error("%s", exc)
        return 2
    view = args.view == "window"
    if view:
        ok, why = gui_available()
        if not ok:
            view = False
            if args.save is None:
                args.save = "edgepose_out.png" if source.kind == "image" else "edgepose_out.mp4"
            logger.warning("cannot open a window: %s; saving to %s instead", why, args.save)
    sink = None
    try:
        detector = (ModelDetector(args.detector, args.detector_format)
                    if args.detector not in (None, "hog", "motion") else make_detector(args.detector))
        mode = args.mode or ("track" if detector is not None else "full")
        sink = open_sink(args.save, source.fps) if args.save else None
        with Estimator(args.model, args.backend, threads=args.threads, mode=mode, detector=detector,
                       smoothing=None if args.no_smoothing else "auto", score_threshold=args.threshold) as estimator:
            stats = run_stream(estimator, source, sink=sink, view=view, threshold=estimator.score_threshold,
                               realtime=args.realtime, max_frames=args.max_frames, reconnect=policy,
                               max_bad_frames=args.max_bad_frames)
    except EdgeposeError as exc:
        logger.error("%s", exc)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before the stream loop took over SIGINT
        logger.info("interrupted")
        return 130
    finally:  # run_stream closes both; this covers failures before it (both are safe to close twice)
        if sink is not None:
            sink.close()
        source.close()
    return 3 if stats.reason in ("disconnected", "corrupt") else 0


if __name__ == "__main__":
    sys.exit(main())
