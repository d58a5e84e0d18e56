"""Print the project's requirements (pyproject.toml) for the given extras, one per line.

Why: the images install their dependencies in layers of their own, before the sources are
copied, so editing code does not reinstall TensorFlow; and the host fills the build's
wheelhouse from the same list. Markers are kept (pip evaluates them where it installs).
With --pinned, print instead the whole dependency closure as `name==version`, the versions
installed in the running interpreter's environment (the tested venv): `make images` fetches
exactly those wheels and the images install them offline, so an image runs what the tests ran
and no resolver runs during a build.
Usage: python requirements.py [--pinned] [PYPROJECT] [EXTRA ...]   (PYPROJECT: ./pyproject.toml)
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

__all__ = ["pinned", "requirements"]

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


def pinned(reqs: list[str]) -> list[str]:
    """`name==version` for every distribution `reqs` needs here, as installed in this
    environment; SystemExit naming the first one missing or outside its range (then the
    caller resolves from the index instead: never an image built from other versions)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    todo = [(Requirement(r), "") for r in reqs]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        key = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"requirements.py: {req.name} is not installed here") from None
        if not req.specifier.contains(dist.version, prereleases=True):
            raise SystemExit(f"requirements.py: {req.name} {dist.version} is outside {req}")
        new_extras = [e for e in sorted(req.extras) if (key, e) not in pins]
        if key in pins and not new_extras:
            continue
        pins[key] = dist.version
        for e in new_extras:
            pins[f"{key}[{e}]"] = ""  # remembers which extras were walked
        for line in dist.requires or []:
            for e in ["", *sorted(req.extras)]:
                todo.append((Requirement(line), e))
    return sorted(f"{k}=={v}" for k, v in pins.items() if "[" not in k)


if __name__ == "__main__":
    args = sys.argv[1:]
    pin = "--pinned" in args
    args = [a for a in args if a != "--pinned"]
    path = Path("pyproject.toml")
    if args and args[0].endswith(".toml"):
        path = Path(args.pop(0))
    reqs = requirements(path, args)
    print("\n".join(pinned(reqs) if pin else reqs))
