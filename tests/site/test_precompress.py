"""Production builds carry .gz and .br copies of every text file; local builds do not."""

import gzip
import subprocess
import sys

import brotli

from sitebuild.precompress import precompress_tree
from tests.conftest import ROOT, build_site


def test_production_build_writes_gzip_and_brotli_copies(tmp_path):
    output = tmp_path / "output"
    result = build_site(output, settings="publishconf.py")
    assert result.returncode == 0, result.stdout + result.stderr
    page = output / "index.html"
    assert gzip.decompress((output / "index.html.gz").read_bytes()) == page.read_bytes()
    assert brotli.decompress((output / "index.html.br").read_bytes()) == page.read_bytes()
    css = output / "theme" / "css" / "site.css"
    assert gzip.decompress(css.with_name("site.css.gz").read_bytes()) == css.read_bytes()
    assert not list(output.rglob("*.png.gz")), "binary images must not be compressed again"


def test_local_build_has_no_compressed_copies(built_site):
    assert not list(built_site.rglob("*.gz"))


def test_command_compresses_files_written_after_pelican(tmp_path):
    script = tmp_path / "pagefind-ui.js"
    script.write_text("console.log('search');\n" * 40)
    tiny = tmp_path / "tiny.css"
    tiny.write_text("a{}")
    command = [sys.executable, "-m", "sitebuild.precompress", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert "2 compressed copies" in result.stdout
    assert brotli.decompress((tmp_path / "pagefind-ui.js.br").read_bytes()) == script.read_bytes()
    assert not (tmp_path / "tiny.css.gz").exists(), "files under 256 bytes are left alone"
    assert precompress_tree(tmp_path) == 0, "up-to-date copies are not written again"
