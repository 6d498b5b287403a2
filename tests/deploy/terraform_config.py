"""infra/terraform read with python-hcl2, in a shape tests can assert on.

No Terraform binary (nor provider) can run here, so the wiring that matters is checked on
the parsed configuration instead: which resource references which, which identity holds
which role. python-hcl2 keeps HCL's quotes around keys and string literals and adds
``__is_block__``/``__comments__`` markers; :func:`load_terraform` removes them, so a string
attribute reads as Terraform would print it (``"${var.x}-push"``) and a block is a list of
dicts, as in HCL's JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

from shared.settings import REPO_ROOT

TERRAFORM_DIR = REPO_ROOT / "infra" / "terraform"


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unquote(key): _clean(item) for key, item in value.items() if not key.startswith("__")}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


@dataclass
class TerraformConfig:
    """Every top-level block of the configuration, merged across its files."""

    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def resource(self, type_: str, name: str) -> dict[str, Any]:
        return self.resources[(type_, name)]

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {name: body for (kind, name), body in self.resources.items() if kind == type_}


def parse_file(path: Path) -> dict[str, Any]:
    """One .tf file as python-hcl2 reads it, cleaned (raises on a syntax error)."""
    return _clean(hcl2.loads(path.read_text()))


def load_terraform(directory: Path = TERRAFORM_DIR) -> TerraformConfig:
    config = TerraformConfig()
    for path in sorted(directory.glob("*.tf")):
        config.files[path.name] = path.read_text()
        parsed = parse_file(path)
        for block in parsed.get("resource", []):
            for type_, named in block.items():
                for name, body in named.items():
                    config.resources[(type_, name)] = body
        for block in parsed.get("data", []):
            for type_, named in block.items():
                for name, body in named.items():
                    config.data[(type_, name)] = body
        for block in parsed.get("variable", []):
            config.variables.update(block)
        for block in parsed.get("output", []):
            config.outputs.update(block)
        for block in parsed.get("locals", []):
            config.locals.update(block)
    return config


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block ``name`` of a resource body (HCL JSON form: a one-item list)."""
    blocks = body[name]
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one {name} block, found {blocks!r}"
    return blocks[0]
