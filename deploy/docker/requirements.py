"""Print the project's requirements (pyproject.toml) for the given extras, one per line.

Why: the images install their dependencies in a layer of their own, before the sources are
copied, so editing code does not reinstall TensorFlow; and the host fills the build's
wheelhouse from the same list. Markers are kept (pip evaluates them where it installs).
Usage: python requirements.py [PYPROJECT] [EXTRA ...]   (PYPROJECT defaults to ./pyproject.toml)
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

__all__ = ["requirements"]

_SELF = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*\[([^\]]+)\]\s*$")


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    """The base dependencies plus each extra's, self-references (`name[a,b]`) expanded."""
    project = tomllib.loads(pyproject.read_text())["project"]
    name = project["name"].lower()
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    out: list[str] = list(project["dependencies"])
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"requirements.py: no extra {extra!r} in {pyproject}")
        seen.add(extra)
        for req in optional[extra]:
            m = _SELF.match(req)
            if m and m.group(1).lower() == name:
                todo += [e.strip() for e in m.group(2).split(",")]
            elif req not in out:
                out.append(req)
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    path = Path("pyproject.toml")
    if args and args[0].endswith(".toml"):
        path = Path(args.pop(0))
    print("\n".join(requirements(path, args)))
