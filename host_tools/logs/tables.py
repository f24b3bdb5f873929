"""Summary tables from anything a researcher points at: captures, folders, or saved tables."""

from pathlib import Path

import pandas as pd

from host_tools.logs.capfile import UserError

TABLE_SUFFIXES = (".csv", ".parquet")


def read_table(path):
    """A summary table (logs.summary() columns) from a capture file, a folder of captures, or a
    table saved by `pumpctl cohort`/`report` (.parquet keeps every type; .csv is retyped)."""
    from host_tools import logs
    from host_tools.logs import infusions

    path = Path(path)
    if path.suffix in TABLE_SUFFIXES and path.is_file():
        try:
            table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise UserError("cannot read the table %s: %s" % (path, exc)) from None
        missing = {"infusion", "outcome", "duration_min"} - set(table.columns)
        if missing:
            raise UserError("%s is not a summary table (no %s column)"
                            % (path, ", ".join(sorted(missing))))
        extra = [c for c in table.columns if c not in infusions.INFUSION_COLUMNS]
        typed = infusions.typed_summary(table)
        for column in extra:
            typed[column] = table[column].to_numpy()
        return typed
    return logs.summary(logs.load(path))


def read_tables(paths):
    """read_table() of several paths, one table."""
    tables = [read_table(p) for p in paths]
    return pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]


def write_table(table, out_dir, stem):
    """The table as Parquet (every type kept) and CSV (for spreadsheets): the two paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / (stem + ".parquet"), out_dir / (stem + ".csv")]
    table.to_parquet(paths[0], index=False)
    table.to_csv(paths[1], index=False)
    return paths
