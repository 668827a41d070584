"""Filling the background-photo cache from image packages of the Debian archive.

Each package is fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x`` in
a scratch folder; its raster images (JPEG, PNG, WebP; SVG and tiny icons are skipped)
are scaled down to at most ``max_side`` pixels and written as JPEG under
``<cache>/images/<package>/``. ``<cache>/manifest.json`` lists, per image: the cached
file, the package, its version, the file's path in the package, its licence (from the
package's ``debian/copyright``), the sha256 of the original file (``source_sha256``,
the key of the denylist) and of the cached file (``sha256``).

Only the packages of :data:`ALLOWED_PACKAGES` may be used, and images whose original
sha256 is on the committed denylist (``background_denylist.json`` next to this module:
images that show a person, a face, a statue or another human-like figure) are never
written to the cache.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from edgepose.errors import InputError

logger = logging.getLogger(__name__)

#: Packages fetched by default: wallpapers, and the ground, wall and sky textures of a
#: free game (about 830 MB of downloads, 35 MB of cache at 1024 px).
DEFAULT_PACKAGES: tuple[str, ...] = (
    "mate-backgrounds", "ukui-wallpapers", "lomiri-wallpapers", "gnome-backgrounds", "plasma-workspace-wallpapers",
    "supertuxkart-data",
)
#: Every package that may serve as an image source: only packages whose kept images have
#: all been looked at (``0ad-data`` is not yet: its unit textures show people).
ALLOWED_PACKAGES: tuple[str, ...] = DEFAULT_PACKAGES

#: Packages of which only some images are kept: ``(glob on the path in the package,
#: regular expression on the file name, excluded if it matches)``. The game's texture
#: folder also holds character skins, faces, icons and normal maps; only ground, wall,
#: rock, plant and sky textures are kept.
PACKAGE_SELECTION: dict[str, tuple[str, str, str]] = {
    "supertuxkart-data": (
        "usr/share/games/supertuxkart/data/textures/*",
        r"(?i)(asphalt|brick|concrete|wall|stone|rock|grass|dirt|wood|sand|paving|road|ground|marble|roof|metal"
        r"|snow|ceramic|crate|earth|board|tile|steel|gravel|bark|moss|sky|sea|plants|lava|ice|canyon|egypt)",
        r"(?i)(_nm|normal|mask|alpha|gloss|gfx|icon|particle|spark|smoke|glow|kiki|sara|nolok|konqi|tux|face|eye"
        r"|hair|cloth|body|character|wilber|pidgin|suzanne|gnu|puffy|amanda|emule|xue|gavroche|adiumy|hexley"
        r"|sign|poster)",
    ),
}

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
#: Images whose shorter side is below this (pixels) are icons or thumbnails: skipped.
MIN_SIDE = 256
MANIFEST = "manifest.json"
DENYLIST = Path(__file__).with_name("background_denylist.json")
ENV_CACHE_DIR = "EDGEPOSE_BACKGROUNDS"


#: Per package, a regular expression on the file name of repeating textures.
TILEABLE: dict[str, str] = {"supertuxkart-data": r"^(?!.*(?i:sky|summer|flag|planet|road|racetrack|canyon_water))"}


def default_cache_dir() -> Path:
    """``$EDGEPOSE_BACKGROUNDS`` if set, else ``~/.cache/edgepose/backgrounds``."""
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env) if env else Path.home() / ".cache" / "edgepose" / "backgrounds"


@dataclass(frozen=True)
class BackgroundRecord:
    """One cached background image (a row of the manifest).

    Attributes:
        file: path of the cached JPEG relative to the cache folder.
        package: Debian package it came from.
        version: the package's version.
        source_path: the file's path inside the package.
        licence: licence of the file per the package's ``debian/copyright``.
        source_sha256: sha256 of the original file (the denylist's key).
        sha256: sha256 of the cached file.
        width: cached image width in pixels.
        height: cached image height in pixels.
        tileable: a texture made to repeat (crops may tile it instead of enlarging it).
    """

    file: str
    package: str
    version: str
    source_path: str
    licence: str
    source_sha256: str
    sha256: str
    width: int
    height: int
    tileable: bool = False


@dataclass(frozen=True)
class Denylist:
    """Images never to use: by sha256 of the original file, or by a glob on its path in
    the package (a wallpaper shipped at several resolutions is one folder).

    Attributes:
        by_sha256: ``{source_sha256: reason}``.
        by_glob: ``(glob on source_path, reason)`` pairs.
    """

    by_sha256: dict[str, str]
    by_glob: tuple[tuple[str, str], ...] = ()
    reviewed_versions: tuple[tuple[str, str], ...] = ()

    def check_reviewed(self, package: str, version: str) -> None:
        """Raise InputError unless the images of this package version were all looked at."""
        reviewed = dict(self.reviewed_versions).get(package)
        if reviewed != version:
            raise InputError(f"{package} {version} has not been checked for images of people (checked: "
                             f"{reviewed or 'no version'}); look at every image it adds and update {DENYLIST.name}")

    def reason(self, source_path: str, source_sha256: str) -> str | None:
        """Why the file is denied, or None when it may be used."""
        if source_sha256 in self.by_sha256:
            return self.by_sha256[source_sha256]
        return next((why for glob, why in self.by_glob if fnmatch.fnmatch(source_path, glob)), None)


def load_denylist(path: Path = DENYLIST) -> Denylist:
    """The denylist file: ``{"images": [{"source_sha256", "reason", "source_glob"?}, ...],
    "reviewed_versions": {package: version}}``."""
    if not path.is_file():
        return Denylist({})
    entries = json.loads(path.read_text())["images"]
    reviewed = json.loads(path.read_text()).get("reviewed_versions", {})
    return Denylist({e["source_sha256"]: e["reason"] for e in entries},
                    tuple((e["source_glob"], e["reason"]) for e in entries if e.get("source_glob")),
                    tuple(sorted(reviewed.items())))


def parse_copyright(text: str) -> list[tuple[list[str], str]]:
    """``(file globs, licence name)`` per ``Files:`` stanza of a machine-readable
    ``debian/copyright`` (DEP-5), in file order; ``[(["*"], first licence line)]`` for a
    free-form one that names a licence, else ``[]``."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and current is not None:
                fields[current] += "\n" + line.strip()
                continue
            key, sep, value = line.partition(":")
            if sep and re.fullmatch(r"[A-Za-z-]+", key):
                current = key.lower()
                fields[current] = value.strip()
        if "files" in fields and "license" in fields:
            stanzas.append((fields["files"].split(), fields["license"].splitlines()[0].strip()))
    if stanzas:
        return stanzas
    match = re.search(r"^.*\b(licen[cs]ed?|License)\b.*$", text, flags=re.MULTILINE | re.IGNORECASE)
    return [(["*"], match.group(0).strip())] if match else []


def licence_of(source_path: str, stanzas: Sequence[tuple[list[str], str]]) -> str:
    """Licence of a file installed at ``source_path`` (``usr/share/...``): the last
    stanza with a glob that matches the end of the path (DEP-5: later stanzas win),
    else ``"unknown"``."""
    parts = source_path.split("/")
    suffixes = ["/".join(parts[i:]) for i in range(len(parts))]
    found = "unknown"
    for globs, licence in stanzas:
        if any(fnmatch.fnmatch(s, g) for g in globs for s in suffixes):
            found = licence
    return found


def _run(cmd: Sequence[str], cwd: Path, what: str) -> str:
    try:
        done = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InputError(f"{cmd[0]} not found: fetching backgrounds needs a Debian-based system (apt, dpkg)") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"{what} failed: {last} (try 'apt-get update' first)")
    return done.stdout


def download_package(package: str, workdir: Path) -> tuple[Path, str]:
    """``apt-get download`` one package into ``workdir``; returns the .deb and its version."""
    _run(["apt-get", "download", package], workdir, f"apt-get download {package}")
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if not debs:
        raise InputError(f"apt-get download {package} wrote no .deb file in {workdir}")
    version = _run(["dpkg-deb", "-f", str(debs[-1]), "Version"], workdir, f"dpkg-deb -f {debs[-1].name}").strip()
    return debs[-1], version


def _picture_key(image: np.ndarray) -> tuple[float, bytes]:
    """Aspect ratio (2 decimals) and 256-bit average hash of an (H, W, 3) image: the same
    picture at another resolution gives the same key, a crop of it does not."""
    grey = cv2.cvtColor(cv2.resize(image, (16, 16), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    return round(image.shape[1] / image.shape[0], 2), np.packbits(grey > grey.mean()).tobytes()


def scaled_down(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` resized (area averaging) so that its longer side is at most ``max_side``."""
    h, w = image.shape[:2]
    factor = max_side / max(h, w)
    if factor >= 1.0:
        return image
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _package_images(root: Path, package: str) -> Iterable[Path]:
    """Raster image files of an unpacked package, narrowed by :data:`PACKAGE_SELECTION`."""
    selection = PACKAGE_SELECTION.get(package)
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if selection is not None:
            glob, keep, drop = selection
            if not (fnmatch.fnmatch(path.relative_to(root).as_posix(), glob) and re.search(keep, path.name)
                    and not re.search(drop, path.name)):
                continue
        yield path


def add_package(package: str, cache_dir: Path, max_side: int, denylist: Denylist) -> list[BackgroundRecord]:
    """Fetch one package and cache its images; returns their manifest records.

    The same picture shipped at several resolutions is kept once (the largest). Images
    smaller than :data:`MIN_SIDE`, unreadable ones, mostly transparent ones (more than a
    tenth of the pixels with alpha below 128) and denylisted ones are skipped.
    """
    if package not in ALLOWED_PACKAGES:
        raise InputError(f"{package} is not an allowed background source; allowed: {', '.join(ALLOWED_PACKAGES)}")
    out_dir = cache_dir / "images" / package
    with tempfile.TemporaryDirectory(prefix="edgepose-bg-") as tmp:
        work = Path(tmp)
        deb, version = download_package(package, work)
        denylist.check_reviewed(package, version)
        root = work / "root"
        _run(["dpkg-deb", "-x", str(deb), str(root)], work, f"dpkg-deb -x {deb.name}")
        copyright_file = root / "usr" / "share" / "doc" / package / "copyright"
        stanzas = parse_copyright(copyright_file.read_text(errors="replace")) if copyright_file.is_file() else []
        best: dict[tuple[float, bytes], tuple[int, Path, np.ndarray, str]] = {}
        skipped = {"small, unreadable or transparent": 0, "denylisted": 0}
        candidates = 0
        for path in _package_images(root, package):
            data = path.read_bytes()
            source_sha = hashlib.sha256(data).hexdigest()
            if denylist.reason(path.relative_to(root).as_posix(), source_sha) is not None:
                skipped["denylisted"] += 1
                continue
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            if image is not None and image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            if image is None or min(image.shape[:2]) < MIN_SIDE:
                skipped["small, unreadable or transparent"] += 1
                continue
            if image.shape[2] == 4:
                if np.mean(image[:, :, 3] < 128) > 0.1:
                    skipped["small, unreadable or transparent"] += 1
                    continue
                image = np.ascontiguousarray(image[:, :, :3])
            if image.dtype != np.uint8:
                image = cv2.convertScaleAbs(image, alpha=255.0 / np.iinfo(image.dtype).max)
            candidates += 1
            key = _picture_key(image)
            pixels = image.shape[0] * image.shape[1]
            if key not in best or pixels > best[key][0]:
                best[key] = (pixels, path, scaled_down(image, max_side), source_sha)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        records = []
        for _, path, small, source_sha in sorted(best.values(), key=lambda item: str(item[1])):
            rel = path.relative_to(root).as_posix()
            ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 92])
            if not ok:
                raise OSError(f"could not encode {rel} of {package}")
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.removeprefix("usr/share/"))
            target = out_dir / (Path(name).stem + ".jpg")
            if target.exists():  # another file of the same name with another extension
                target = out_dir / f"{Path(name).stem}-{source_sha[:8]}.jpg"
            target.write_bytes(encoded.tobytes())
            records.append(BackgroundRecord(
                file=target.relative_to(cache_dir).as_posix(), package=package, version=version, source_path=rel,
                licence=licence_of(rel, stanzas), source_sha256=source_sha,
                sha256=hashlib.sha256(encoded.tobytes()).hexdigest(), width=small.shape[1], height=small.shape[0],
                tileable=bool(re.search(TILEABLE.get(package, "$^"), path.name))))
    logger.info("%s %s: %d images cached (skipped: %d small, unreadable or transparent, %d denylisted, "
                "%d duplicates)", package, version, len(records), skipped["small, unreadable or transparent"],
                skipped["denylisted"], candidates - len(records))
    return records


def fetch_backgrounds(cache_dir: Path, packages: Sequence[str] = DEFAULT_PACKAGES, max_side: int = 1024,
                      denylist_path: Path = DENYLIST) -> Path:
    """Fetch ``packages`` into ``cache_dir`` and (re)write its manifest; returns the manifest path.

    Records of packages already in the manifest and not fetched now are kept.

    Raises:
        InputError: an unknown package, ``max_side`` below :data:`MIN_SIDE`, or apt/dpkg failing.
    """
    unknown = [p for p in packages if p not in ALLOWED_PACKAGES]
    if unknown:
        raise InputError(f"not an allowed background source: {', '.join(unknown)}; "
                         f"allowed: {', '.join(ALLOWED_PACKAGES)}")
    if max_side < MIN_SIDE:
        raise InputError(f"max_side must be >= {MIN_SIDE}, got {max_side}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    denylist = load_denylist(denylist_path)
    manifest_path = cache_dir / MANIFEST
    kept = []
    if manifest_path.is_file():
        kept = [r for r in json.loads(manifest_path.read_text())["images"] if r["package"] not in packages]
    records = [asdict(r) for p in packages for r in add_package(p, cache_dir, max_side, denylist)]
    images = sorted(kept + records, key=lambda r: r["file"])
    manifest_path.write_text(json.dumps({"max_side": max_side, "images": images}, indent=1))
    return manifest_path
