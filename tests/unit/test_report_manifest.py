"""MANIFEST rows, config hashes, report captions and results/README.md from the artifact table."""

from __future__ import annotations

import fnmatch
import hashlib
import subprocess

import pytest
import yaml

from conftest import ROOT
from rdm_core.report.captions import artifact_caption, rst_escape
from rdm_core.report.manifest import (MANIFEST_COLUMNS, config_hash, config_value, config_values, explained_patterns,
                                      git_commit, manifest_table, results_readme)

CONFIG = {"scale": "tiny", "toy": {"fig3": {"batch_sizes": [8, 32]}, "train": {"lr": 1.0e-3}}, "battery": {"names": ["a"]}}
ARTIFACTS = yaml.safe_load((ROOT / "config" / "artifacts.yaml").read_text())


def test_config_value_resolves_dotted_keys_and_names_the_missing_part():
    assert config_value(CONFIG, "toy.fig3") == {"batch_sizes": [8, 32]}
    assert config_value(CONFIG, "battery") == {"names": ["a"]}
    with pytest.raises(KeyError, match="'toy.fig4': no 'fig4' under 'toy'"):
        config_value(CONFIG, "toy.fig4")
    with pytest.raises(KeyError, match="no 'nope' under '<top level>'"):
        config_value(CONFIG, "nope")


def test_config_hash_depends_on_values_only():
    a = config_values(CONFIG, ["toy.fig3", "toy.train"])
    b = {"toy.train": {"lr": 0.001}, "toy.fig3": {"batch_sizes": [8, 32]}}  # other order, same values
    assert config_hash(a) == config_hash(b) and len(config_hash(a)) == 16
    assert config_hash(a) != config_hash({**b, "toy.fig3": {"batch_sizes": [8, 64]}})
    assert config_hash(a) != config_hash({"toy.fig3": a["toy.fig3"]})  # the key set counts too


def test_manifest_rows(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "t.csv").write_text("a,b\n1,2\n")
    (tmp_path / "VERIFY.md").write_bytes(b"# v\n")
    entries = [{"artifact": "table9", "rule": "table9", "files": ["tables/t.csv"], "config": {"toy.train": {"lr": 1}}},
               {"artifact": "VERIFY", "rule": "verify", "files": ["VERIFY.md"], "config": {}}]
    df = manifest_table(tmp_path, entries, "abc123")
    assert list(df.columns) == MANIFEST_COLUMNS and list(df["file"]) == ["tables/t.csv", "VERIFY.md"]
    assert df.loc[0, "sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert df.loc[1, "sha256"] == hashlib.sha256(b"# v\n").hexdigest()
    assert df.loc[0, "config_hash"] == config_hash({"toy.train": {"lr": 1}}) and df.loc[0, "config_keys"] == "toy.train"
    assert df.loc[1, "config_hash"] == "-" and (df["commit"] == "abc123").all() and df.loc[1, "rule"] == "verify"
    entries[0]["files"].append("tables/missing.csv")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        manifest_table(tmp_path, entries, "abc123")


def test_git_commit(tmp_path):
    assert git_commit(tmp_path) == "unknown"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert git_commit(ROOT) == (head or "unknown")


def test_caption_renders_row_keys_and_hash():
    row = {"paper": "Figure 9", "title": "A_b *c*", "caption": "Shows  x|y\n over `B`.", "outputs": ["figures/f.png"],
           "config": ["toy.fig3"]}
    template = (ROOT / "workflow" / "report" / "artifact.rst").read_text()
    text = artifact_caption(template, "fig9", row, CONFIG, "workflow/rules/figures.smk")
    assert "**Figure 9: A\\_b \\*c\\***" in text and "Shows x\\|y over \\`B\\`." in text
    assert "``toy.fig3`` = ``{\"batch_sizes\": [8, 32]}``" in text
    assert config_hash(config_values(CONFIG, ["toy.fig3"])) in text
    assert "``fig9`` in ``workflow/rules/figures.smk``" in text and "``figures/f.png``" in text
    with pytest.raises(KeyError):
        artifact_caption(template, "fig9", {**row, "config": ["toy.nope"]}, CONFIG)


def test_rst_escape():
    assert rst_escape("a_b *c* `d` |e| \\") == "a\\_b \\*c\\* \\`d\\` \\|e\\| \\\\"


def test_every_caption_of_the_table_is_valid_rst():
    """Each row's caption parses as reStructuredText without warnings (the report would show them)."""
    from docutils.core import publish_parts

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    template = (ROOT / "workflow" / "report" / "artifact.rst").read_text()
    for name, row in ARTIFACTS.items():
        text = artifact_caption(template, name, row, config)
        html = publish_parts(text, writer="html", settings_overrides={"report_level": 2, "halt_level": 2})["body"]
        assert row["paper"] in html, name


def test_results_readme_is_generated_and_explains_every_file():
    """The committed results/README.md is what the artifact table generates, and it explains every committed file."""
    text = results_readme(ARTIFACTS)
    assert (ROOT / "results" / "README.md").read_text() == text, "results/README.md is stale: run the results_readme rule"
    for name, row in ARTIFACTS.items():
        assert f"| `{name}` |" in text and all(f"`{p}`" in text for p in row["outputs"])
    patterns = explained_patterns(ARTIFACTS)
    files = [p.relative_to(ROOT / "results" / "mini").as_posix() for p in (ROOT / "results" / "mini").rglob("*")
             if p.is_file()]
    assert files
    unexplained = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not unexplained, unexplained
