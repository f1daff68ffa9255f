"""The bundled evaluation prompt sets are the official files: row counts and sha256 (hashed here, not read from
the library's constants), and the loaders refuse any other file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rdm_core.eval.geneval import SHA256, TASKS, load_prompts
from rdm_core.eval.pickscore import PICKAPIC_SHA256, load_pickapic

PROMPTS = Path(__file__).parents[2] / "data" / "prompts"
GENEVAL = PROMPTS / "geneval_evaluation_metadata.jsonl"
PICKAPIC = PROMPTS / "pickapic_test_prompts.jsonl"


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_geneval_file_is_the_official_one():
    """djghosh13/geneval af4902f prompts/evaluation_metadata.jsonl: 553 rows."""
    assert hashlib.sha256(GENEVAL.read_bytes()).hexdigest() == \
        "5c48e0813e812e3c373fa5c8ed07a8f0a483be30272b4427b0559c8048e67c13" == SHA256
    rows = lines(GENEVAL)
    assert len(rows) == 553 and {r["tag"] for r in rows} == set(TASKS)
    assert load_prompts(GENEVAL, "k", sha256=SHA256) == rows


def test_pickapic_file_is_the_official_one():
    """vita-epfl/RDM 391e274 assets/pickapic_test_prompts.jsonl: 499 rows."""
    assert hashlib.sha256(PICKAPIC.read_bytes()).hexdigest() == \
        "e71adc6357b15b9752e3fa40bf5eb7ddd98e6deafc816e5448e72b00fd431a2a" == PICKAPIC_SHA256
    prompts = load_pickapic(PICKAPIC, "k")
    assert len(prompts) == 499 and prompts == [r["prompt"] for r in lines(PICKAPIC)]


def test_provenance_and_licence_are_shipped():
    readme = (PROMPTS / "README.md").read_text()
    assert "af4902f" in readme and "391e274" in readme and "MIT" in readme
    assert "Dhruba Ghosh" in (PROMPTS / "GENEVAL_LICENSE").read_text()


def test_loaders_refuse_an_edited_file(tmp_path):
    edited = tmp_path / "geneval.jsonl"
    edited.write_bytes(GENEVAL.read_bytes().replace(b"a photo of", b"a picture of", 1))
    with pytest.raises(ValueError, match="sha256"):
        load_prompts(edited, "t2i.paper.geneval.prompts", sha256=SHA256)
    edited.write_bytes(PICKAPIC.read_bytes()[:-200])
    with pytest.raises(ValueError, match="t2i.paper.pickscore"):
        load_pickapic(edited, "t2i.paper.pickscore.pickapic")
    with pytest.raises(FileNotFoundError, match="data/prompts"):
        load_pickapic(tmp_path / "none.jsonl", "k")
