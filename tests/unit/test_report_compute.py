"""The compute table: benchmark files aggregated per stage, checked on hand-made TSVs."""

from __future__ import annotations

import pytest

from rdm_core.report.compute import compute_table, read_benchmark

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(path, *rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{s}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n" for s, rss, cpu in rows))
    return path


def test_compute_table_per_stage(tmp_path):
    root = tmp_path / "benchmarks"
    paths = [bench(root / "toy" / "sw_B8.tsv", (10.0, 100.0, 8.0)),
             bench(root / "toy" / "sw_B32.tsv", (30.0, 300.0, 20.0)),
             bench(root / "eval" / "irdm.tsv", (5.0, 50.0, 10.0), (7.0, 70.0, 12.0)),  # two repeats: their mean
             bench(root / "eval" / "probes.tsv", (1.0, "NA", 0.5))]  # too short to measure memory
    df = compute_table(paths, root).set_index("stage")
    assert list(df.index) == ["toy", "eval", "total"]
    assert df.loc["toy", "jobs"] == 2 and df.loc["toy", "wall time (s)"] == 40.0
    assert df.loc["toy", "max RSS (MB)"] == 300.0 and df.loc["eval", "wall time (s)"] == 7.0
    assert df.loc["eval", "max RSS (MB)"] == 60.0  # NA ignored
    assert df.loc["total", "jobs"] == 4 and df.loc["total", "wall time (s)"] == 47.0
    assert df.loc["total", "max RSS (MB)"] == 300.0
    assert list(df.columns) == ["jobs", "wall time (s)", "max RSS (MB)"]  # Snakemake's sampled cpu_time is left out


def test_compute_table_rejects_bad_input(tmp_path):
    root = tmp_path / "benchmarks"
    with pytest.raises(ValueError, match="no benchmark files"):
        compute_table([], root)
    flat = bench(root / "flat.tsv", (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="stage folder"):
        compute_table([flat], root)
    bad = root / "toy" / "bad.tsv"
    bad.parent.mkdir()
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="not a Snakemake benchmark file"):
        read_benchmark(bad)
