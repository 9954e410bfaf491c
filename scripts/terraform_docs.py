"""Regenerate the Requirements/Resources/Inputs/Outputs tables of each module's README.

A small stand-in for terraform-docs (a Go binary we cannot download here), producing
the same kind of block between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`.
The tables come from the .tf files, so they cannot drift from them:

    .venv/bin/python scripts/terraform_docs.py            # rewrite the READMEs
    .venv/bin/python scripts/terraform_docs.py --check    # exit 1 if one is stale (tests run this)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hcl2

MODULES = Path(__file__).resolve().parents[1] / "modules"
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def _unquote(value):
    """python-hcl2 keeps HCL's quotes on strings and wraps expressions in ${...}."""
    if isinstance(value, str):
        if value.startswith('"') and value.endswith('"'):
            return json.loads(value)
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
    if isinstance(value, dict):
        return {_unquote(key): _unquote(item) for key, item in value.items() if not key.startswith("__")}
    if isinstance(value, list):
        return [_unquote(item) for item in value]
    return value


def _parse(path: Path) -> dict:
    with path.open() as handle:
        return _unquote(hcl2.load(handle))


def _blocks(path: Path, kind: str) -> list[tuple[str, dict]]:
    """Labelled blocks (`variable "x" {}`) as (label, body) pairs, in file order."""
    return _blocks_of(_parse(path), kind)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br/>")


def _hcl_value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _blocks_of(parsed: dict, kind: str) -> list[tuple[str, dict]]:
    return [(name, body) for block in parsed.get(kind, []) for name, body in block.items()]


def requirements(module: Path) -> list[str]:
    rows = ["| Name | Version |", "|------|---------|"]
    for terraform in _parse(module / "versions.tf")["terraform"]:
        rows.append(f"| terraform | {_cell(terraform['required_version'])} |")
        for providers in terraform.get("required_providers", []):
            for name, spec in providers.items():
                rows.append(f"| {name} | {_cell(spec['version'])} |")
    return rows


def resources(module: Path) -> list[str]:
    rows = ["| Name | Type |", "|------|------|"]
    parsed = _parse(module / "main.tf")
    for kind, label, prefix in (("resource", "resource", ""), ("data", "data source", "data.")):
        for type_name, named in _blocks_of(parsed, kind):
            rows += [f"| {prefix}{type_name}.{name} | {label} |" for name in named]
    return rows


def inputs(module: Path) -> list[str]:
    rows = [
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    for name, body in _blocks(module / "variables.tf", "variable"):
        required = "default" not in body
        default = "n/a" if required else f"`{_hcl_value(body['default'])}`"
        rows.append(
            f"| {name} | {_cell(body['description'])} | `{_cell(str(body['type']))}` | {_cell(default)} | "
            f"{'yes' if required else 'no'} |"
        )
    return rows


def outputs(module: Path) -> list[str]:
    rows = ["| Name | Description | Sensitive |", "|------|-------------|:---------:|"]
    for name, body in _blocks(module / "outputs.tf", "output"):
        rows.append(f"| {name} | {_cell(body['description'])} | {'yes' if body.get('sensitive') else 'no'} |")
    return rows


def docs_block(module: Path) -> str:
    parts = [BEGIN]
    for title, build in (
        ("Requirements", requirements),
        ("Resources", resources),
        ("Inputs", inputs),
        ("Outputs", outputs),
    ):
        parts += ["", f"## {title}", "", *build(module)]
    parts += ["", END]
    return "\n".join(parts)


def updated_readme(module: Path) -> tuple[str, str]:
    readme = (module / "README.md").read_text()
    head, begin, rest = readme.partition(BEGIN)
    if not begin:
        raise SystemExit(f"{module / 'README.md'} has no {BEGIN} marker")
    tail = rest.partition(END)[2]
    return readme, head + docs_block(module) + tail


def main(argv: list[str]) -> int:
    stale = []
    for module in sorted(path for path in MODULES.iterdir() if (path / "main.tf").exists()):
        current, wanted = updated_readme(module)
        if current != wanted:
            stale.append(module.name)
            if "--check" not in argv:
                (module / "README.md").write_text(wanted)
    if stale and "--check" in argv:
        print(f"stale module READMEs: {', '.join(stale)} (run scripts/terraform_docs.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
