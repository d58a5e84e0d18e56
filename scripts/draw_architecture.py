"""Draw the package layers and their imports (docs/img/architecture-layers.png).

The layers come from the import-linter contract in pyproject.toml (the rule the test command
enforces); the arrows are read from the code's own imports, so the picture cannot drift from
either. Usage: python scripts/draw_architecture.py [--out docs/img/architecture-layers.png]
"""

from __future__ import annotations

import argparse
import ast
import re
import tomllib
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "services" / "fraudstream"
EVERYONE_USES = {"errors", "config"}  # arrows into these are left out: every layer uses them


def layers() -> list[list[str]]:
    """The layers contract, top first, each a list of node names (`fraudstream.` dropped)."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for c in cfg["tool"]["importlinter"]["contracts"]:
        if c["type"] == "layers":
            return [
                [m.strip().removeprefix("fraudstream.") for m in re.split(r"[|:]", layer)]
                for layer in c["layers"]
            ]
    raise SystemExit("no layers contract in pyproject.toml")


def node_of(module: str, nodes: set[str]) -> str | None:
    """The longest node name that is `module` or one of its parents."""
    parts = module.removeprefix("fraudstream.").split(".")
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        if name in nodes:
            return name
    return None


def edges(nodes: set[str]) -> Counter[tuple[str, str]]:
    """(importer node, imported node) -> number of import statements."""
    found: Counter[tuple[str, str]] = Counter()
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        src = node_of(module, nodes)
        if src is None:
            continue
        for stmt in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(stmt, ast.Import):
                targets = [a.name for a in stmt.names]
            elif isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
                targets = [stmt.module, *(f"{stmt.module}.{a.name}" for a in stmt.names)]
            for t in targets:
                if not t.startswith("fraudstream"):
                    continue
                dst = node_of(t, nodes)
                if dst and dst != src:
                    found[(src, dst)] += 1
                    break
    return found


def draw(out: Path) -> None:
    rows = layers()
    nodes = {n for row in rows for n in row}
    pos: dict[str, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        for i, name in enumerate(row):
            pos[name] = ((i + 0.5) / len(row), 1.0 - r / (len(rows) - 1))
    fig, ax = plt.subplots(figsize=(13, 9))
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.08, 1.08)
    ax.axis("off")
    for (a, b), n in edges(nodes).items():
        if b in EVERYONE_USES:
            continue
        (x0, y0), (x1, y1) = pos[a], pos[b]
        up = y1 > y0 + 1e-9
        ax.add_patch(
            FancyArrowPatch(
                (x0, y0 - 0.025),
                (x1, y1 + 0.025),
                arrowstyle="-|>",
                mutation_scale=9,
                lw=0.4 + 0.15 * min(n, 8),
                color="#c0392b" if up else "#7f8c8d",
                alpha=0.55,
                connectionstyle="arc3,rad=0.08",
            )
        )
    for r, row in enumerate(rows):
        y = 1.0 - r / (len(rows) - 1)
        ax.text(-0.04, y, f"{r + 1}", ha="center", va="center", fontsize=9, color="#95a5a6")
        for name in row:
            x, _ = pos[name]
            w = 0.085 + 0.006 * len(name)
            ax.add_patch(
                FancyBboxPatch(
                    (x - w / 2, y - 0.022),
                    w,
                    0.044,
                    boxstyle="round,pad=0.005",
                    fc="#eaf2f8" if "ksql" not in name else "#fef5e7",
                    ec="#34495e",
                    lw=0.8,
                )
            )
            ax.text(x, y, name, ha="center", va="center", fontsize=9)
    ax.set_title(
        "fraudstream: layers (import-linter contract, top imports below) and imports read from "
        "the code\ngrey: downward import (arrows into errors and config, used by all, left out); "
        "red would be an import up a layer (the test command refuses it)",
        fontsize=10,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "architecture-layers.png")
    draw(p.parse_args().out)


if __name__ == "__main__":
    main()
