"""`pumpctl cohort fit | validate | sweep`: run one, print it, write its files."""

import time

from host_tools.cohort import fit as fitting
from host_tools.cohort import sweep as sweeping
from host_tools.cohort import validate as validating


def _say(out):
    return lambda line="": print(line, file=out)


def fit(seed, replicates, workers, folder, out):
    say = _say(out)
    t0 = time.perf_counter()
    table = fitting.fit(seed, replicates, workers)
    say("fitted on %d cohorts per grid value (seed %d), infusions 1 and 2 simulated, in %.0f s"
        % (replicates, seed, time.perf_counter() - t0))
    for line in fitting.text(table):
        say(line)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "fit.csv", index=False)
    say("wrote %s" % (folder / "fit.csv"))
    return 0


def validate(seed, replicates, workers, folder, out):
    say = _say(out)
    table, _, _ = validating.run(seed, replicates, workers)
    md = validating.markdown(table, replicates, seed)
    say(md)
    say(validating.summary(table))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "validate.md").write_text(md)
    table.to_csv(folder / "validate.csv", index=False)
    say("wrote %s, %s" % (folder / "validate.md", folder / "validate.csv"))
    return 0


def sweep(seed, replicates, workers, folder, out):
    say = _say(out)
    t0 = time.perf_counter()
    table = sweeping.sweep(seed, replicates, workers)
    say("swept %d assumptions one at a time, %d cohorts each end (seed %d), in %.0f s"
        % (table["assumption"].nunique(), replicates, seed, time.perf_counter() - t0))
    for name, part in table.groupby("output", sort=False):
        part = part.assign(swing=(part["high_delta_min"] - part["low_delta_min"]).abs())
        top = part.sort_values("swing", ascending=False).head(3)
        say("%-22s %4.0f min; largest: %s" % (name, part["baseline_min"].iloc[0], ", ".join(
            "%s %+.0f/%+.0f" % (r["assumption"], r["low_delta_min"], r["high_delta_min"])
            for _, r in top.iterrows())))
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "sweep.csv", index=False)
    fig = sweeping.tornado(table, replicates, seed)
    paths = [folder / ("tornado." + ext) for ext in ("png", "svg")]
    for path in paths:
        fig.savefig(path, dpi=200)
    sweeping.plt.close(fig)
    say("wrote %s" % ", ".join(str(p) for p in [folder / "sweep.csv"] + paths))
    return 0
