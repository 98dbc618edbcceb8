"""Every timing result of a run, as a digest and a compact JSON, to compare two kernels or two checkouts.

The fast simulation kernel must not change any timing result (docs/simulation-model.md, "Fast path"):
per-(timestep, PE) cycles per phase, time_done, packets in/out and DVFS level; every PE's counters
(overruns, late packets, queue-full events, ...), busy cycles and time per level; dropped packets,
deliveries and DMA transfers; the energy breakdown; and, with ``--record``, every packet's send and
arrival time, every DMA's completion and every callback's interval (what a trace recorder is told).

Usage::

    python tools/timing_fingerprint.py gsc                      # a shipped network at small size
    python tools/timing_fingerprint.py gsc --kernel exact --record
    python tools/timing_fingerprint.py networks/lif_bench.yaml --set run.ticks=5 --json out.json
    python tools/timing_fingerprint.py --list

Compare two checkouts by running it with ``PYTHONPATH`` pointing at each: the digests must match
(on one machine: float32 BLAS may round differently on another CPU).

Golden digests (the refactor's regression anchor): ``--write-golden`` records every small run with the
exact kernel and a trace recorder into ``tests/golden/timing/`` (one ``NAME.json.gz`` with the full
results, to locate a difference, and ``digests.json`` with both digests, keyed by platform).
``tests/tools/test_timing_fingerprint.py`` compares every kernel with them. A golden may change only
in a commit that says why (``git log tests/golden/timing``)::

    python tools/timing_fingerprint.py --write-golden              # every small run
    python tools/timing_fingerprint.py --write-golden gsc yinyang  # some of them
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = ROOT / "tests" / "golden" / "timing"

#: Shipped networks at a size that runs in seconds: (network file, --set overrides, CLI options).
SMALL_RUNS: dict[str, tuple[str, list[str], dict[str, Any]]] = {
    "gsc": ("networks/gsc.yaml", ["dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1"], {}),
    # a tick shorter than a step's work: overruns, late packets, dropped ticks, late learning
    "gsc_short_tick": ("networks/gsc.yaml", ["dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1",
                                             "run.tick_ns=150000"], {}),
    # DVFS (levels picked per tick by load) and one delivery per packet: the grouped paths' other branches
    "gsc_dvfs_packet": ("networks/gsc.yaml", ["dataset.n_train=1", "dataset.n_valid=1", "dataset.n_test=1",
                                              "run.dvfs=load", "run.simulator.noc_fidelity=packet"], {}),
    "fsdd": ("networks/fsdd.yaml", ["training.epochs=1", "dataset.n_train=2", "dataset.n_valid=1",
                                    "dataset.n_test=1"], {}),
    "yinyang": ("networks/yinyang.yaml", ["network.epochs=1", "network.batch=4", "network.n_steps=10",
                                          "training.max_batches=2"], {}),
    "lif_bench": ("networks/lif_bench.yaml", ["run.ticks=12", "network.layers=[64,96,48]",
                                              "mapping.neurons_per_pe=32"], {}),
    "lif_bench_packet_dvfs": ("networks/lif_bench.yaml", ["run.ticks=12", "network.layers=[64,96,48]",
                                                          "mapping.neurons_per_pe=32", "run.simulator.noc_fidelity=packet",
                                                          "run.dvfs=load"], {}),
    # key kept from the file's old name (lif_board.yaml) so the recorded golden still applies
    "lif_board": ("networks/lif_chip.yaml", ["run.ticks=6", "network.layers=[400,1200,1200]",
                                              "network.p_connect=0.02", "mapping.neurons_per_pe=150"], {}),
    "cue_accumulation": ("networks/cue_accumulation.yaml", [
        "network.n_steps=40", "network.learn_steps=10", "network.batch=2", "dataset.n_train=2",
        "dataset.n_test=1", "dataset.n_cues=2", "dataset.t_cue_steps=5", "dataset.t_interval_steps=10",
        "dataset.t_wait_steps=20", "dataset.recall_steps=10", "training.epochs=1"],
                         {"reference_training": True, "timing_samples": 1}),
    "nir": ("networks/nir/yinyang_if.nir", [], {}),
    # contention: narrow links, short TX/DMA/task queues (link, injection-port, TX back-pressure rules)
    "gsc_contention": ("networks/gsc.yaml", ["dataset.n_train=1", "dataset.n_valid=1", "dataset.n_test=1",
                                             "arch.pe.dma_queue_size=1", "arch.pe.tx_queue_size=2",
                                             "arch.noc.link_width_bits=16", "arch.pe.task_queue_size=2"], {}),
    "lif_contention": ("networks/lif_bench.yaml", ["run.ticks=12", "network.layers=[64,96,48]",
                                                   "mapping.neurons_per_pe=32", "network.input_rate_hz=400",
                                                   "arch.pe.tx_queue_size=2", "arch.noc.link_width_bits=8"], {}),
}


class TimingRecorder:
    """A trace recorder that keeps what the hardware reports, in order, as plain tuples."""

    def __init__(self) -> None:
        self.callbacks: list[tuple] = []
        self.packets: list[tuple] = []
        self.dmas: list[tuple] = []

    def callback(self, pe: int, kind: str, phases: dict, start_ns: float, end_ns: float, cycles: float) -> None:
        self.callbacks.append((pe, kind, start_ns, end_ns, cycles, sorted(phases.items())))

    def packet(self, src: int, dst: int, key: int, send_ns: float, arrive_ns: float, n: int) -> None:
        self.packets.append((src, dst, key, send_ns, arrive_ns, n))

    def dma(self, pe: int, tag: int, start_ns: float, end_ns: float, nbytes: int) -> None:
        self.dmas.append((pe, tag, start_ns, end_ns, nbytes))


@contextlib.contextmanager
def kernel_env(kernel: str | None):
    """Run with ``S2SIM_KERNEL`` set to ``kernel`` (None: leave it as it is)."""
    old = os.environ.get("S2SIM_KERNEL")
    if kernel is not None:
        os.environ["S2SIM_KERNEL"] = kernel
    try:
        yield
    finally:
        if kernel is not None:
            if old is None:
                os.environ.pop("S2SIM_KERNEL", None)
            else:
                os.environ["S2SIM_KERNEL"] = old


def run_network(network: str | Path, sets: list[str], options: dict[str, Any], recorder=None):
    """Run a network file through ``s2sim.run.run_network`` (no summary files); return the app's result."""
    from s2sim.config import load_network
    from s2sim.run import RunOptions, run_network as run_entry

    loaded = load_network(Path(network), list(sets))
    with tempfile.TemporaryDirectory() as out:
        run = RunOptions(out_dir=Path(out), recorder=recorder, write_outputs=False, **options)
        return run_entry(loaded, run).app


def _array(a: np.ndarray) -> list:
    return np.asarray(a).tolist()


def timing_results(sim, recorder: TimingRecorder | None = None) -> dict[str, Any]:
    """Every timing result of a finished simulation as JSON-able values (floats exact: repr round trip)."""
    from s2sim.energy import energy_breakdown_j

    machine = sim.machine
    machine.flush_stats()
    st, c = machine.stats, machine.counters
    n = st.n_rows
    used = sim.used_pes
    cols = np.asarray(used, dtype=np.intp)
    end_ns = sim.env.now
    out: dict[str, Any] = {
        "end_ns": end_ns, "rows": n, "rows_seen": st.rows_seen, "pes": used,
        "per_tick": {name: _array(getattr(st, name)[:n][:, cols]) for name in
                     ("time_done_ns", "busy_cycles", "packets_in", "packets_out")},
        "level": _array(st.level_of[:n][:, cols]), "level_names": list(st.level_names),
        "phase_cycles": {ph: _array(arr[:n][:, cols]) for ph, arr in sorted(st.phase_cycles.items())},
        "beyond_max_done_ns": _array(st.beyond_max_done_ns[cols]),
        "pe": {str(pe.id): {"counters": dict(sorted(c.of(pe.id).items())),
                            "cycles_by_level": dict(sorted(c.cycles_by_level[pe.id].items())),
                            "time_by_level": dict(sorted(pe.close_levels(end_ns).items())),
                            "phase_totals": dict(sorted(pe.phase_cycles_total.items())),
                            "dma": [c.dma_transfers[pe.id], c.dma_bytes_moved[pe.id], c.dma_queue_full[pe.id]]}
               for pe in machine.pes if pe.firmware is not None},
        "dropped_packets": c.dropped_packets, "deliveries": c.deliveries,
        "energy_j": dict(sorted(energy_breakdown_j(machine, end_ns).items())),
    }
    if recorder is not None:
        out["trace"] = {"packets": recorder.packets, "dmas": recorder.dmas, "callbacks": recorder.callbacks}
    return out


def digest(results: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(results, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint(network: str | Path, sets: list[str] = (), options: dict[str, Any] | None = None,
                kernel: str | None = None, record: bool = False) -> dict[str, Any]:
    """Run ``network`` with the given kernel (``fast``/``exact``/``counted``; None: the default) and collect its timing."""
    recorder = TimingRecorder() if record else None
    with kernel_env(kernel):
        result = run_network(network, list(sets), options or {}, recorder)
    return timing_results(result.sim, recorder)


def platform_id() -> str:
    """What float32 results may depend on besides the code: CPU architecture and model, numpy, BLAS."""
    import numpy
    cpu = "unknown-cpu"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_id = f"{blas.get('name')}-{blas.get('version')}"
    except Exception:  # noqa: BLE001 - an older numpy without mode="dicts"
        blas_id = "blas-unknown"
    return f"{platform.machine()}|{cpu}|numpy-{numpy.__version__}|{blas_id}"


def golden_digests() -> dict[str, dict[str, dict[str, str]]]:
    """``{platform: {run: {"digest": ..., "trace_digest": ...}}}`` as committed."""
    path = GOLDEN_DIR / "digests.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def golden_for(name: str) -> tuple[str, dict[str, str]] | None:
    """(platform it was recorded on, its digests) for this platform, else for the first recorded one."""
    goldens = golden_digests()
    here = platform_id()
    for plat in ([here] if here in goldens else []) + sorted(goldens):
        if name in goldens[plat]:
            return plat, goldens[plat][name]
    return None


def golden_results(name: str) -> dict[str, Any]:
    """The full recorded results of a small run (with its trace), to locate a difference."""
    with gzip.open(GOLDEN_DIR / f"{name}.json.gz", "rt") as f:
        return json.load(f)


def write_golden(names: list[str]) -> None:
    """Record small runs with the exact kernel and a trace recorder as the golden results."""
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    goldens = golden_digests()
    mine = goldens.setdefault(platform_id(), {})
    for name in names:
        path, sets, options = small_run(name)
        res = fingerprint(path, sets, options, kernel="exact", record=True)
        trace_digest = digest(res)
        with gzip.GzipFile(GOLDEN_DIR / f"{name}.json.gz", "wb", mtime=0) as f:
            f.write(json.dumps(res, sort_keys=True).encode())
        res.pop("trace")
        mine[name] = {"digest": digest(res), "trace_digest": trace_digest}
        print(f"{name:22s} {mine[name]['digest']} (traced {trace_digest})")
    (GOLDEN_DIR / "digests.json").write_text(json.dumps(goldens, indent=1, sort_keys=True) + "\n")


def small_run(name: str) -> tuple[Path, list[str], dict[str, Any]]:
    path, sets, options = SMALL_RUNS[name]
    return ROOT / path, list(sets), dict(options)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("network", nargs="?", help="a name from --list (small size) or a network file")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="KEY=VALUE override (repeatable)")
    ap.add_argument("--kernel", choices=("fast", "exact", "counted"), help="simulation kernel (default: $S2SIM_KERNEL or fast)")
    ap.add_argument("--record", action="store_true", help="attach a trace recorder: adds packet/DMA/callback times")
    ap.add_argument("--json", type=Path, help="write the full timing results here")
    ap.add_argument("--list", action="store_true", help="list the small shipped runs")
    ap.add_argument("--write-golden", nargs="*", metavar="NAME",
                    help="record these small runs (none named: all) as the golden timing results")
    args = ap.parse_args(argv)
    if args.write_golden is not None:
        names = args.write_golden or ([args.network] if args.network else list(SMALL_RUNS))
        unknown = [n for n in names if n not in SMALL_RUNS]
        if unknown:
            print(f"error: not small runs: {', '.join(unknown)} (see --list)", file=sys.stderr)
            return 2
        write_golden(names)
        return 0
    if args.list or not args.network:
        for name, (path, sets, opts) in SMALL_RUNS.items():
            print(f"{name:18s} {path} {' '.join('--set ' + s for s in sets)} {opts or ''}")
        return 0
    if args.network in SMALL_RUNS:
        path, sets, options = small_run(args.network)
    else:
        path, sets, options = Path(args.network), [], {}
        if not path.is_file():
            print(f"error: {path}: no such network file and not one of: {', '.join(SMALL_RUNS)}", file=sys.stderr)
            return 2
    res = fingerprint(path, sets + args.sets, options, args.kernel, args.record)
    compact = {"end_ns": res["end_ns"], "rows": res["rows"],
               "max_time_done_ns": max((max(r) for r in res["per_tick"]["time_done_ns"] if r), default=0.0),
               "busy_cycles": float(np.sum(res["per_tick"]["busy_cycles"])),
               "overruns": sum(p["counters"]["timer_overruns"] for p in res["pe"].values()),
               "late_packets": sum(p["counters"]["late_packets"] for p in res["pe"].values()),
               "dropped_packets": res["dropped_packets"], "deliveries": res["deliveries"],
               "energy_j": sum(res["energy_j"].values())}
    if "trace" in res:
        compact["traced"] = {k: len(v) for k, v in res["trace"].items()}
    print(json.dumps({"network": str(args.network), "digest": digest(res), **compact}))
    if args.json:
        args.json.write_text(json.dumps(res, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
