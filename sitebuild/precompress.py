"""Write .gz and .br copies of text files next to them, for nginx's gzip_static/brotli_static.

Used two ways: as a Pelican plugin (on when the setting PRECOMPRESS is true, as in
publishconf.py) and as a command for files written after Pelican, such as Pagefind's:
`python -m sitebuild.precompress OUTPUT_DIR`.
"""

import gzip
import os
import sys
from pathlib import Path

import brotli
from pelican import signals

# Text formats worth compressing; images other than SVG and Pagefind's fragments already are.
SUFFIXES = {".html", ".css", ".js", ".xml", ".svg", ".json", ".txt", ".ico", ".webmanifest"}
# Below this, the compressed copy saves less than a network packet.
MIN_BYTES = 256


def precompress_tree(root: Path) -> int:
    """Compress every eligible file below `root` whose copies are missing or stale."""
    written = 0
    for path in sorted(root.rglob("*")):
        if path.suffix in SUFFIXES and path.is_file() and path.stat().st_size >= MIN_BYTES:
            written += precompress_file(path)
    return written


def precompress_file(path: Path) -> int:
    """Write `path`.gz and `path`.br unless they are newer than `path`; return how many."""
    data = None
    written = 0
    for suffix, compress in ((".gz", _gzip), (".br", _brotli)):
        target = path.with_name(path.name + suffix)
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        data = path.read_bytes() if data is None else data
        _write_atomically(target, compress(data))
        written += 1
    return written


def _gzip(data: bytes) -> bytes:
    # mtime=0 keeps builds reproducible: the same page gives the same bytes.
    return gzip.compress(data, compresslevel=9, mtime=0)


def _brotli(data: bytes) -> bytes:
    return brotli.compress(data, quality=11)


def _write_atomically(target: Path, data: bytes) -> None:
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)


def _on_finalized(pelican) -> None:
    """Compress Pelican's output when the build asks for it (production builds)."""
    if pelican.settings.get("PRECOMPRESS"):
        precompress_tree(Path(pelican.output_path))


def register():
    """Connect the plugin to Pelican's finalized signal."""
    signals.finalized.connect(_on_finalized)


def main(argv: list[str]) -> int:
    """Command line: compress every eligible file below each folder named."""
    if not argv:
        print("usage: python -m sitebuild.precompress OUTPUT_DIR [...]", file=sys.stderr)
        return 2
    for folder in argv:
        print(f"{folder}: {precompress_tree(Path(folder))} compressed copies written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
