"""Run a simulated cohort on every core (concurrent.futures), or on a Dask cluster when given."""

import concurrent.futures
import os

import numpy as np
import pandas as pd

from host_tools.cohort import patient
from host_tools.logs.infusions import typed_summary
from host_tools.logs.timeline import INFUSION_COLUMNS

COLUMNS = INFUSION_COLUMNS + ("replicate", "arm", "weight_kg")
_EXTRA = ["replicate", "arm", "weight_kg"]


def roles(s, seed, replicate):
    """Who has a reaction, in each cohort: exactly the scenario's shares of its patients (the
    paper's 19 of 47, 1 of them with 2 episodes, 1 not interrupted), drawn per cohort."""
    rng = np.random.default_rng([seed, replicate, 2**31 - 1])
    n = s.patients
    n_ir = int(round(s.ir_patient_share * n))
    chosen = [int(p) + 1 for p in rng.permutation(n)[:n_ir]]
    n_two = int(round(s.ir_second_episode_share * n_ir))
    n_not = int(round(s.ir_not_interrupted_share * n_ir))
    n_later = int(round(s.ir_later_share * n_ir))
    out = {p: {"ir": False, "episodes": 0, "interrupted": True, "at": 1}
           for p in range(1, n + 1)}
    for k, p in enumerate(chosen):
        out[p] = {"ir": True, "episodes": 2 if k < n_two else 1,
                  "interrupted": k < n_ir - n_not,
                  "at": s.ir_later_infusion if k >= n_ir - n_later else 1}
    return out


def tasks(s, seed, replicates):
    out = []
    for replicate in range(1, replicates + 1):
        role = roles(s, seed, replicate)
        out += [(replicate, p, role[p]) for p in range(1, s.patients + 1)]
    return out


def run_chunk(s, seed, chunk, upto=None):
    """Simulate a list of (replicate, patient, role) -> the rows as columns (dict of lists)."""
    columns = {c: [] for c in COLUMNS}
    for replicate, number, role in chunk:
        for row in patient.simulate(s, seed, replicate, number, role, upto):
            for c in COLUMNS:
                columns[c].append(row[c])
    return columns


def simulate(s, seed=1, replicates=1, workers=None, dask_address=None, chunk_patients=None,
             upto=None):
    """A cohort table (the summary's columns + replicate, arm, weight_kg), sorted by
    replicate, subject, infusion. The same for any workers, chunking or engine: each patient
    has its own seed. upto: simulate only each patient's first infusions (for fits)."""
    todo = tasks(s, seed, replicates)
    workers = workers or os.cpu_count() or 1
    size = chunk_patients or max(1, min(64, len(todo) // (workers * 4) or 1))
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    if dask_address:
        parts = _on_dask(dask_address, s, seed, chunks)
    elif workers == 1 or len(chunks) == 1:
        parts = [run_chunk(s, seed, c, upto) for c in chunks]
    else:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            n = len(chunks)
            parts = list(pool.map(run_chunk, [s] * n, [seed] * n, chunks, [upto] * n))
    merged = {c: [v for part in parts for v in part[c]] for c in COLUMNS}
    table = pd.DataFrame(merged, columns=list(COLUMNS))
    extra = table[_EXTRA].astype({"replicate": "int64", "arm": "string",
                                  "weight_kg": "float64"})
    table = typed_summary(table.drop(columns=_EXTRA))
    table[_EXTRA] = extra
    return table.sort_values(["replicate", "subject", "index"], kind="stable",
                             ignore_index=True)


def _on_dask(address, s, seed, chunks):
    try:
        from distributed import Client
    except ImportError:
        from host_tools.logs.capfile import UserError

        raise UserError("--dask needs the cluster extra: pip install 'isapump[cluster]'") \
            from None
    with Client(address) as client:
        futures = client.map(run_chunk, [s] * len(chunks), [seed] * len(chunks), chunks,
                             pure=False)
        return client.gather(futures)
