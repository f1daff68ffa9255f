"""Report captions rendered from the artifact table: what an artifact shows, how it was computed, which config
keys set it. The caption template (reStructuredText with Jinja) lives in workflow/report/."""

from __future__ import annotations

import json
import re
from typing import Mapping

import jinja2

from rdm_core.report.manifest import config_hash, config_values

MAX_VALUE_CHARS = 160  # longer config values are cut in the caption (the config file has them whole)


def rst_escape(text: str) -> str:
    """Plain text as reStructuredText: inline markup characters are escaped, whitespace folded."""
    return re.sub(r"([\\*`_|])", r"\\\1", " ".join(str(text).split()))


def _compact(value) -> str:
    text = json.dumps(value, separators=(", ", ": "), default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 3] + "..."


def artifact_caption(template: str, name: str, row: Mapping, config: Mapping, rule_file: str = "") -> str:
    """Render the caption template for one row of the artifact table with the run's resolved config."""
    values = config_values(config, row["config"])
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             autoescape=False)
    env.filters["rst"] = rst_escape
    return env.from_string(template).render(
        name=name, row=row, scale=config["scale"], rule_file=rule_file,
        keys=[{"key": k, "value": _compact(v)} for k, v in values.items()],
        config_hash=config_hash(values) if values else "-")
