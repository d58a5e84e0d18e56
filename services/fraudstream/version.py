"""What build this is: the package version and the git commit it was built from.

Shown by `fraudstream --version`, exported as the `fraudstream_build_info` metric by every
server and written into every model manifest, so a score or a model can be traced to code.
The commit comes from FRAUDSTREAM_GIT_COMMIT (set by image builds, where there is no .git),
else from the checkout the package runs from, else "unknown".
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

from fraudstream import __version__

PACKAGE_DIR = Path(__file__).resolve().parent
_HEX = re.compile(r"^[0-9a-f]{7,40}$")


@functools.cache
def git_commit() -> str:
    """The full commit hash of this build ("unknown" outside a checkout without the env var)."""
    env = os.environ.get("FRAUDSTREAM_GIT_COMMIT", "").strip().lower()
    if _HEX.match(env):
        return env
    try:
        res = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    out = res.stdout.strip()
    return out if res.returncode == 0 and _HEX.match(out) else "unknown"


def short_commit() -> str:
    """The first 12 characters of the commit (or "unknown")."""
    commit = git_commit()
    return commit if commit == "unknown" else commit[:12]


def version_line() -> str:
    """`fraudstream 0.1.0 (commit 0123456789ab)`: what `--version` prints."""
    return f"fraudstream {__version__} (commit {short_commit()})"


__all__ = ["__version__", "git_commit", "short_commit", "version_line"]
