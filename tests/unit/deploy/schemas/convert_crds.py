"""Regenerate the vendored CRD JSON schemas kubeconform validates our custom resources with.

The CRD YAMLs come from the operators' own Go module zips (the versions in SOURCES), fetched
through the Go module proxy with `go mod download -json MODULE@VERSION`; each served version's
`openAPIV3Schema` is converted as kubeconform's scripts/openapi2jsonschema.py does
(`additionalProperties: false` wherever `properties` are listed, below the root;
`int-or-string` as a oneOf), into `crds/<kind>_<version>.json`, the name kubeconform's
`{{ .ResourceKind }}_{{ .ResourceAPIVersion }}` location expects.

    python tests/unit/deploy/schemas/convert_crds.py     # needs `go` on PATH
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
# module, version, CRD files inside the module zip
SOURCES: list[tuple[str, str, list[str]]] = [
    (
        "github.com/kedacore/keda/v2",
        "v2.18.0",
        [
            "config/crd/bases/keda.sh_scaledobjects.yaml",
            "config/crd/bases/keda.sh_triggerauthentications.yaml",
        ],
    ),
    (
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        [
            "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
            "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
        ],
    ),
]


def additional_properties(data: Any, skip: bool = False) -> Any:
    if isinstance(data, dict):
        if "properties" in data and not skip and "additionalProperties" not in data:
            data["additionalProperties"] = False
        for v in data.values():
            additional_properties(v)
    return data


def replace_int_or_string(data: Any) -> Any:
    if isinstance(data, dict):
        if data.get("format") == "int-or-string":
            return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        return {k: replace_int_or_string(v) for k, v in data.items()}
    if isinstance(data, list):
        return [replace_int_or_string(x) for x in data]
    return data


def convert(crd: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`<kind>_<version>.json` -> schema, for every version of one CRD."""
    kind = crd["spec"]["names"]["kind"]
    out = {}
    for version in crd["spec"]["versions"]:
        schema = version.get("schema", {}).get("openAPIV3Schema")
        if schema is not None:
            schema = replace_int_or_string(additional_properties(schema, skip=True))
            out[f"{kind}_{version['name']}".lower() + ".json"] = schema
    return out


def main() -> int:
    target = HERE / "crds"
    target.mkdir(exist_ok=True)
    sources = {}
    with tempfile.TemporaryDirectory() as tmp:
        for module, version, files in SOURCES:
            res = subprocess.run(
                ["go", "mod", "download", "-json", f"{module}@{version}"],
                cwd=tmp, capture_output=True, text=True, check=True,
            )  # fmt: skip
            info = json.loads(res.stdout)
            prefix = f"{module}@{version}/"
            with zipfile.ZipFile(info["Zip"]) as zf:
                for name in files:
                    crd = yaml.safe_load(zf.read(prefix + name))
                    for out_name, schema in convert(crd).items():
                        (target / out_name).write_text(json.dumps(schema, indent=1) + "\n")
                        sources[out_name] = f"{module}@{version} ({info['Sum']}) {name}"
    (target / "SOURCES.json").write_text(json.dumps(sources, indent=1, sort_keys=True) + "\n")
    print(f"{len(sources)} schemas in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
