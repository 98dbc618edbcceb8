"""Before/after of branch last-mile's commit-path and EventProp changes, interleaved in one process (CPU time).

"Before" patches in a base revision's versions of what the branch changed (``TickStats.add_block`` and
``_ensure``, ``CountedEngine._commit``, ``EventpropModel.window_inputs``/``_load_events``/``_tick_all``,
``LayerGroup._forward``/``record_inputs``/``_history_by_step``), read with ``git show REV:path``; "after" is the checkout. Each
round runs both, then the ``--fast`` reference; prints the best round of each and asserts equal per-tick
time done.

Usage: OPENBLAS_NUM_THREADS=1 python benchmarks/ab_last_mile.py REV {gsc|ep} [n] [rounds] [names,...]
"""
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, "benchmarks")
REV = sys.argv.pop(1)


def load(name: str, rel: str, package: str):
    """Module ``rel`` as it is at ``REV``, imported as ``name`` inside ``package`` (its relative imports: the checkout's)."""
    text = subprocess.run(["git", "show", f"{REV}:{rel}"], capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, os.path.basename(rel))
        with open(path, "w") as out:
            out.write(text)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        mod.__package__ = package
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod



old_ts = load("s2sim.hw.tickstats_main", "s2sim/hw/tickstats.py", "s2sim.hw")
old_en = load("s2sim.counted.engine_main", "s2sim/counted/engine.py", "s2sim.counted")
old_ep = load("s2sim.counted.eventprop_main", "s2sim/counted/eventprop.py", "s2sim.counted")
old_fw = load("firmware_models.eventprop.firmware_main", "firmware_models/eventprop/firmware.py", "firmware_models.eventprop")
from firmware_models.eventprop.firmware import LayerGroup
from s2sim.counted.engine import CountedEngine
from s2sim.counted.eventprop import EventpropModel
from s2sim.hw.tickstats import TickStats

PATCH = [(TickStats, "add_block", old_ts.TickStats), (TickStats, "_ensure", old_ts.TickStats),
         (CountedEngine, "_commit", old_en.CountedEngine)] + \
        [(EventpropModel, m, old_ep.EventpropModel) for m in ("window_inputs", "_load_events", "_tick_all")] + \
        [(LayerGroup, m, old_fw.LayerGroup) for m in ("_forward", "record_inputs", "_history_by_step")]
sel = sys.argv[4] if len(sys.argv) > 4 else "all"
PATCH = [x for x in PATCH if sel == "all" or x[1] in sel.split(",")]
NEW = {(c, m): c.__dict__[m] for c, m, _ in PATCH}
def use(which):
    for c, m, o in PATCH:
        setattr(c, m, o.__dict__[m] if which == "before" else NEW[(c, m)])
which = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
res = {}
if which == "gsc":
    import bench_gsc_chip_vs_fast as B

    from firmware_models.eprop import reference as R
    from firmware_models.eprop.params import EpropParams
    p = EpropParams(); rng = np.random.default_rng(0); w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((n, p.n_steps, p.n_in)) * 4).astype(np.float32); Y = rng.integers(0, p.n_out, n)
    run = lambda: B.chip_seconds_per_sample("counted", p, w0, X, Y)
    ref = lambda: B.reference_seconds_per_sample(p, w0, X, Y)
else:
    import bench_eventprop as E

    from firmware_models.eventprop import reference as R
    from firmware_models.eventprop.params import EventpropParams
    p = EventpropParams(); times, y = R.load_data(p)["train"]; w0 = R.init_weights(p, 42)
    run = lambda: E.chip_seconds_per_batch("counted", p, w0, times, y, n)
    ref = lambda: E.reference_seconds_per_batch(p, w0, times, y, n)
done = {}
for r in range(rounds):
    for v in ("before", "after"):
        use(v)
        out = run()
        res.setdefault(v, []).append(out[0]); done[v] = out[1]
    res.setdefault("reference", []).append(ref())
use("after")
assert np.array_equal(done["before"], done["after"]), "per-tick time done differs"
m = {k: min(v) for k, v in res.items()}
for k, v in res.items():
    print(f"{which} {k:10s} best {m[k]*1e3:6.2f} ms  rounds {[round(x*1e3, 2) for x in v]}  ratio to reference {m[k]/m['reference']:.2f}")
