"""Validate the pipeline's YAML files against their JSON Schemas (draft 2020-12), naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parent.parent / "workflow" / "schemas"


class ConfigError(ValueError):
    """A config file breaks its schema; the message names the file and the key."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def validate(data: Any, schema_name: str, source: str) -> Any:
    """Validate ``data`` against ``workflow/schemas/<schema_name>``; raise one ConfigError listing every problem."""
    schema = yaml.safe_load((SCHEMAS / schema_name).read_text())
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        lines = []
        for err in errors:
            if err.validator == "additionalProperties":
                extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
                for name in extra:
                    lines.append(f"  {_key([*err.absolute_path, name])}: unknown key")
            else:
                lines.append(f"  {_key(err.absolute_path)}: {err.message}")
        raise ConfigError(f"{source} is invalid ({len(lines)} problem{'s' if len(lines) > 1 else ''}):\n"
                          + "\n".join(lines))
    return data


def load_yaml(path: str | Path, schema_name: str) -> Any:
    """Read a YAML file and validate it; a missing or unparsable file is a ConfigError naming it."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    return validate(data, schema_name, str(path))
