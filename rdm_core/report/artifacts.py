"""Write one artifact's files (figures and tables) by their extensions, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from rdm_core.io import atomic_path, write_text  # noqa: E402

FIGURE_EXTS = (".png", ".pdf")
TABLE_EXTS = (".csv", ".md", ".tex")


def table_text(df: pd.DataFrame, ext: str, floatfmt: str = ".3f") -> str:
    """Render a table as CSV, Markdown or LaTeX."""
    if ext == ".csv":
        return df.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    if ext == ".md":
        blanks = df.astype(object).where(df.notna(), None)  # missing cells print empty
        return blanks.to_markdown(index=False, floatfmt=floatfmt, missingval="") + "\n"
    if ext == ".tex":
        return df.to_latex(index=False, float_format=lambda v: format(v, floatfmt), na_rep="--")
    raise ValueError(f"no table format for '{ext}'")


def write_outputs(paths: Sequence[str], figure=None, tables: Mapping[str, pd.DataFrame] | pd.DataFrame | None = None,
                  floatfmt: str = ".3f") -> None:
    """Write every output path of an artifact: figures to PNG/PDF, tables to CSV/Markdown/LaTeX.

    ``tables`` is one DataFrame (used for every table file) or a mapping from file stem to DataFrame.
    """
    for path in map(Path, paths):
        if path.suffix in FIGURE_EXTS:
            if figure is None:
                raise ValueError(f"{path}: artifact declares a figure but none was drawn")
            with atomic_path(path) as tmp:
                # metadata pinned so reruns give identical files
                meta = {"CreationDate": None} if path.suffix == ".pdf" else {"Software": None}
                figure.savefig(tmp, format=path.suffix[1:], dpi=150, bbox_inches="tight", metadata=meta)
        elif path.suffix in TABLE_EXTS:
            df = tables if isinstance(tables, pd.DataFrame) else (tables or {}).get(path.stem)
            if df is None:
                raise ValueError(f"{path}: no table named '{path.stem}' was given")
            write_text(path, table_text(df, path.suffix, floatfmt))
        else:
            raise ValueError(f"{path}: unknown artifact file type")
    if figure is not None:
        plt.close(figure)
