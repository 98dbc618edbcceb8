#!/usr/bin/env python3
"""lif_bench in s2sim and in SANA-FE: same network, same input spikes; spikes per layer and wall time.

    python benchmarks/compare_sanafe.py [NETWORK.yaml] [--ticks 200] [--repeat 3] [--set key=value ...]

SANA-FE (https://github.com/SLAM-Lab/SANA-FE) is not a dependency of s2sim, only of its benchmarks
(the ``bench`` extra: ``pip install -e .[bench]``), or in a benchmark-only environment, e.g.

    python3 -m venv ../venv-sanafe && ../venv-sanafe/bin/pip install sanafe -e .
    OPENBLAS_NUM_THREADS=1 ../venv-sanafe/bin/python benchmarks/compare_sanafe.py --kernel counted

What is the same on both sides: the layers, the synapses and their weights (s2sim's build of the
network file, ``lif_inference.app.load_and_place``), the Poisson input spike trains (drawn by
s2sim's source PEs' generators, handed to SANA-FE's ``input`` somas as per-timestep trains), the
neuron equations (v <- alpha v + I; spike when v > threshold; reset), the one-timestep delay
between layers, and the placement (s2sim's PE n is SANA-FE's core n; 4 cores per tile, as 4 PEs per
QPE). SANA-FE runs its ``detailed`` timing model on a SpiNNaker2-like architecture built from
s2sim's arch file (``sanafe_arch_doc``). Its LIF soma is Loihi's: double precision, the potential
truncated to 1/64 after the leak; s2sim's firmware computes in float32. Weights and threshold are
scaled by ``SCALE`` (a power of two: exact) so that truncation is 2**-24 threshold units, no
coarser than float32's rounding; the two can still differ where a potential lands within about
1e-7 of the threshold.

Timed (median of ``--repeat`` interleaved runs, building and loading excluded): s2sim (chip
engine, the network file's NoC fidelity, ``burst`` by default; spikes recorded), SANA-FE
``detailed`` (one thread, like the others) with its spike trace on (the counts need it) and, for
what recording costs it, off, and a plain numpy loop (dense float32 matrix-vector products per
layer and step: the floor).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: the floor is single-threaded, like the others

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: weights and threshold are multiplied by this on the SANA-FE side (see the module docstring)
SCALE = 2.0 ** 18
#: SANA-FE's LIF soma truncates the potential to 1/64 through a C int: |v| * SCALE * 64 must fit
_INT32_MAX = 2 ** 31 - 1
#: SANA-FE needs a NoC link buffer depth; s2sim's arch file has no router buffer number, so this is
#: the depth of SANA-FE's own example architectures: a setting of the peer model, not a SpiNNaker2 number
SANAFE_LINK_BUFFER_MESSAGES = 4
INSTALL_HINT = ("SANA-FE is not installed in this Python: make a benchmark-only venv with "
                "'python3 -m venv ../venv-sanafe && ../venv-sanafe/bin/pip install sanafe -e .' "
                "and run this script with ../venv-sanafe/bin/python")


def import_sanafe():
    try:
        import sanafe
    except ImportError:
        print(f"compare_sanafe: {INSTALL_HINT}", file=sys.stderr)
        raise SystemExit(2)
    return sanafe


# ---- the network, as s2sim builds it ------------------------------------------------------------
def build_s2sim(network: Path, sets: list[str]):
    """``(ctx, sim, built, firmwares)``: a fresh simulation with the network loaded, not yet run."""
    from firmware_models.lif_inference.app import load_and_place
    return load_and_place(network, sets)


def check_network(network: Path, sets: list[str]) -> None:
    """A network file this script cannot build: one line naming it, exit 2 (no traceback)."""
    from s2sim.apps import AppError
    from s2sim.config import load_network
    from s2sim.config.errors import ConfigError
    try:
        package = load_network(network, list(sets)).spec.firmware.package
        if package != "lif_inference":
            raise ValueError(f"{network}: firmware.package is '{package}'; this comparison runs "
                             f"lif_inference networks (e.g. networks/lif_bench.yaml)")
        build_s2sim(network, sets)
    except (ConfigError, AppError, ValueError) as err:
        print(f"compare_sanafe: {err}", file=sys.stderr)
        raise SystemExit(2)


def input_spikes(built, ticks: int, tick_ns: float) -> np.ndarray:
    """[ticks, layer 0] bool: the spike trains the Poisson source PEs draw (their own generators)."""
    from firmware_models.lif_inference.reference import input_raster
    return input_raster(built, ticks, built.net.input_rate_hz * tick_ns * 1e-9)


def s2sim_rasters(built, firmwares, ticks: int) -> list[np.ndarray]:
    from firmware_models.lif_inference.app import raster
    return [raster(built, firmwares, layer, ticks) for layer in range(len(built.net.layers))]


# ---- the floor: a plain numpy loop --------------------------------------------------------------
def numpy_loop(weights: list[np.ndarray], inputs: np.ndarray, alpha: np.float32, threshold: np.float32,
               reset: str) -> list[np.ndarray]:
    """Spike rasters of every layer: dense float32 products, the firmware's equations and order.

    Weights are multiples of the weight resolution, so the float32 sums are exact in any order and
    the spikes are the firmware's, bit for bit.
    """
    ticks = inputs.shape[0]
    rasters = [inputs] + [np.zeros((ticks, w.shape[1]), bool) for w in weights]
    v = [np.zeros(w.shape[1], np.float32) for w in weights]
    for t in range(ticks):
        for layer, w in enumerate(weights, start=1):
            vl = v[layer - 1]
            vl *= alpha
            if t > 0:
                vl += rasters[layer - 1][t - 1].astype(np.float32) @ w
            fired = vl > threshold
            if reset == "zero":
                vl[fired] = 0
            else:
                vl[fired] -= threshold
            rasters[layer][t] = fired
    return rasters


def peak_potential(weights: list[np.ndarray], rasters: list[np.ndarray], alpha: float, threshold: float,
                   reset: str) -> float:
    """Largest |v| any neuron reaches (before its reset): bounds what SANA-FE's soma must hold."""
    top = 0.0
    for layer, w in enumerate(weights, start=1):
        current = np.zeros(rasters[layer].shape)
        current[1:] = rasters[layer - 1][:-1].astype(np.float64) @ w
        v = np.zeros(w.shape[1])
        for row in current:
            v = alpha * v + row
            top = max(top, float(np.abs(v).max()))
            fired = v > threshold
            v[fired] = 0.0 if reset == "zero" else v[fired] - threshold
    return top


# ---- SANA-FE ------------------------------------------------------------------------------------
def sanafe_arch_doc(ctx, n_cores: int, input_units: int) -> dict:
    """A SpiNNaker2-like SANA-FE architecture, every number taken from s2sim's arch file.

    A tile is a QPE (``chip.pes_per_qpe`` cores) on the ``chip.mesh_width`` wide mesh; costs at the
    default performance level: a hop ``noc.hop_latency_cycles`` / ``noc.energy_per_hop_pj``, a
    received packet the interrupt entry + exit, a synapse the compiled ``event_add`` kernel, a neuron
    update ``lif_neuron_update``, a Poisson source neuron its PRNG draw and compare (as the source
    firmware charges it), a sent packet ``pe.send_packet_cycles``. A coarse mapping: s2sim's own
    timing adds callback overheads, DMA, contention and the timer's schedule.
    """
    prov = ctx.loaded.arch.provenance()

    def arch(path: str) -> float:
        return float(prov[path].value)

    level_name = ctx.hw.default_perf_level
    clock_hz = arch(f"performance_levels.{level_name}.clock_mhz") * 1e6
    pj_per_cycle = arch(f"performance_levels.{level_name}.active_energy_per_cycle_pj")

    def cycles(n: float) -> dict[str, float]:
        return {"latency": n / clock_hz, "energy": n * pj_per_cycle * 1e-12}

    per_pe = int(arch("chip.pes_per_qpe"))
    width = int(arch("chip.mesh_width"))
    n_tiles = -(-n_cores // per_pe)
    hop_s = arch("noc.hop_latency_cycles") / (arch("noc.clock_mhz") * 1e6)
    hop_j = arch("noc.energy_per_hop_pj") * 1e-12
    packet_in = cycles(arch("pe.irq_entry_cycles") + arch("pe.irq_exit_cycles"))
    synapse = cycles(arch("kernels.event_add"))
    neuron = cycles(arch("kernels.lif_neuron_update"))
    source = cycles(4 * arch("core_cycles.int_alu") + arch("core_cycles.int_mul") + arch("core_cycles.loop"))
    packet_out = cycles(arch("pe.send_packet_cycles"))

    def soma(name: str, model: str, update: dict) -> dict:
        return {"name": name, "attributes": {
            "model": model, "energy_access_neuron": 0.0, "latency_access_neuron": 0.0,
            "energy_update_neuron": update["energy"], "latency_update_neuron": update["latency"],
            "energy_spike_out": 0.0, "latency_spike_out": 0.0}}

    core = {
        "name": f"pe[0..{per_pe - 1}]",
        "attributes": {"buffer_position": "soma", "max_neurons_supported": 1 << 16},
        "axon_in": [{"name": "packet_in", "attributes": {
            "energy_message_in": packet_in["energy"], "latency_message_in": packet_in["latency"]}}],
        "synapse": [{"name": "event_add", "attributes": {
            "model": "current_based", "energy_process_spike": synapse["energy"],
            "latency_process_spike": synapse["latency"]}}],
        "dendrite": [{"name": "input_buffer", "attributes": {
            "model": "accumulator", "energy_update": 0.0, "latency_update": 0.0}}],
        # SANA-FE's input soma keeps one spike train per unit: one unit per source neuron of a core
        "soma": [soma("lif", "leaky_integrate_fire", neuron),
                 soma(f"source[0..{input_units - 1}]", "input", source)],
        "axon_out": [{"name": "packet_out", "attributes": {
            "energy_message_out": packet_out["energy"], "latency_message_out": packet_out["latency"]}}],
    }
    hops = {f"{kind}_{d}_hop": value for d in ("north", "east", "south", "west")
            for kind, value in (("energy", hop_j), ("latency", hop_s))}
    return {"architecture": {
        "name": "spinnaker2_like",
        "attributes": {"link_buffer_size": SANAFE_LINK_BUFFER_MESSAGES, "width": width, "height": -(-n_tiles // width)},
        "tile": [{"name": f"qpe[0..{n_tiles - 1}]", "attributes": hops, "core": [core]}]}}


def sanafe_network(sanafe, arch, built, inputs: np.ndarray, alpha: float, first_pe: int):
    """The same layers, synapses (weights x SCALE) and input trains as a SANA-FE network, placed like s2sim."""
    net, cores = sanafe.Network(), arch.cores()
    groups = []
    lif = {"threshold": float(built.net.threshold) * SCALE, "leak_decay": float(alpha), "reset": 0.0,
           "reset_mode": "hard" if built.net.reset == "zero" else "soft"}
    for layer, size in enumerate(built.net.layers):
        if layer == 0:
            groups.append(net.create_neuron_group("layer0", size, model_attributes={}, log_spikes=True,
                                                  soma_hw_name="source[0]"))
        else:
            groups.append(net.create_neuron_group(f"layer{layer}", size, model_attributes=lif,
                                                  log_spikes=True, soma_hw_name="lif"))
    for s in built.slices:
        neurons = groups[s.layer].neurons
        for i in range(s.start, s.stop):
            if s.layer == 0:
                neurons[i].set_attributes(soma_hw_name=f"source[{i - s.start}]",
                                          model_attributes={"spikes": inputs[:, i].tolist()})
            neurons[i].map_to_core(cores[s.pe - first_pe])
    for layer, rows in enumerate(built.projections):
        pre = np.repeat(np.arange(rows.n_pre), np.diff(rows.indptr))
        groups[layer].connect_neurons_sparse(
            groups[layer + 1], {"weight": (rows.weight.astype(np.float64) * SCALE).tolist()},
            list(zip(pre.tolist(), rows.post.tolist())))
    return net


def sanafe_rasters(result: dict, layers: list[int]) -> list[np.ndarray]:
    ticks = len(result["spike_trace"])
    out = [np.zeros((ticks, n), bool) for n in layers]
    for t, fired in enumerate(result["spike_trace"]):
        for address in fired:
            out[int(address.group_name[len("layer"):])][t, address.neuron_offset] = True
    return out


# ---- the comparison -----------------------------------------------------------------------------
class Timings:
    """Wall and CPU seconds of each run, per label (CPU time is the steadier on a shared machine)."""

    def __init__(self):
        self.wall: dict[str, list[float]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def run(self, label: str):
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall[label].append(time.perf_counter() - wall)
        self.cpu[label].append(time.process_time() - cpu)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("network", nargs="?", type=Path, default=ROOT / "networks" / "lif_bench.yaml")
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--kernel", choices=("fast", "exact", "counted"),
                    help="s2sim's simulation kernel (default: $S2SIM_KERNEL, else fast)")
    args = ap.parse_args(argv)
    if args.kernel:
        os.environ["S2SIM_KERNEL"] = args.kernel
    sanafe = import_sanafe()
    check_network(args.network, args.sets)
    from firmware_models.lif_inference.params import decay

    ctx, _, built, _ = build_s2sim(args.network, args.sets)
    tick_ns, net = ctx.spec.run.tick_ns, built.net
    alpha, threshold = decay(net, tick_ns), np.float32(net.threshold)
    inputs = input_spikes(built, args.ticks, tick_ns)
    weights = [rows.dense() for rows in built.projections]
    floor_rasters = numpy_loop(weights, inputs, alpha, threshold, net.reset)
    peak = peak_potential(weights, floor_rasters, float(alpha), float(threshold), net.reset)
    if peak * SCALE * 64 >= _INT32_MAX:
        print(f"compare_sanafe: potentials reach {peak:.1f} thresholds; SANA-FE's soma overflows past "
              f"{_INT32_MAX / SCALE / 64:.0f} at SCALE={SCALE:g}", file=sys.stderr)
        return 2
    first_pe = min(s.pe for s in built.slices)
    n_cores = max(s.pe for s in built.slices) - first_pe + 1
    sources_per_core = max(s.n for s in built.slices_of(0))

    with tempfile.TemporaryDirectory() as tmp:
        import yaml
        arch_file = Path(tmp) / "spinnaker2_like.yaml"
        arch_file.write_text(yaml.safe_dump(sanafe_arch_doc(ctx, n_cores, sources_per_core)))
        arch = sanafe.load_arch(str(arch_file))

    # once per process, outside the timed runs: the counted kernel loads its compiled loop (numba's cache)
    _, sim, _, _ = build_s2sim(args.network, args.sets)
    load_cpu = time.process_time()
    sim.run_ticks(1)
    load_cpu = time.process_time() - load_cpu
    kernel = sim.machine.kernel
    times = Timings()
    spikes: dict[str, list[np.ndarray]] = {}
    sanafe_sim_s = 0.0
    for _ in range(args.repeat):  # interleaved: a slow spell of the machine hits all three alike
        _, sim, built_here, firmwares = build_s2sim(args.network, args.sets)
        with times.run("s2sim"):
            sim.run_ticks(args.ticks)
        spikes["s2sim"] = s2sim_rasters(built_here, firmwares, args.ticks)

        chip = sanafe.SpikingChip(arch)
        chip.load(sanafe_network(sanafe, arch, built, inputs, float(alpha), first_pe))
        with times.run("sanafe"):
            result = chip.sim(args.ticks, timing_model="detailed", spike_trace=True, processing_threads=1)
        spikes["sanafe"] = sanafe_rasters(result, net.layers)
        sanafe_sim_s = result["sim_time"]

        chip = sanafe.SpikingChip(arch)  # the same without recording spikes: what tracing costs it
        chip.load(sanafe_network(sanafe, arch, built, inputs, float(alpha), first_pe))
        with times.run("sanafe_untraced"):
            chip.sim(args.ticks, timing_model="detailed", processing_threads=1)

        with times.run("numpy"):
            spikes["numpy"] = numpy_loop(weights, inputs, alpha, threshold, net.reset)

    if not np.array_equal(spikes["s2sim"][0], inputs):
        raise AssertionError("s2sim's source PEs drew other input spikes than the exported trains")
    print(f"s2sim kernel: {kernel} (first tick of the process, untimed: {load_cpu:.2f} s CPU)")
    if kernel == "counted":
        print(f"  counted kernel: {sim.machine.kernel_report()}")
    print(f"network: {args.network.name} {' '.join(args.sets)}; layers {net.layers}, {built.n_synapses:,} "
          f"synapses, {len(built.slices)} PEs; {args.ticks} steps; SANA-FE {_version(sanafe)} detailed, "
          f"SCALE={SCALE:g}")
    print("\nspikes per layer (layer 0: the input trains, the same on all sides)")
    print(f"  {'layer':>5} {'neurons':>7} {'s2sim':>7} {'SANA-FE':>7} {'numpy':>7}   (step, neuron) cells where "
          f"s2sim's raster differs: from SANA-FE's, from numpy's")
    for layer, n in enumerate(net.layers):
        a, b, c = (spikes[k][layer] for k in ("s2sim", "sanafe", "numpy"))
        print(f"  {layer:>5} {n:>7} {int(a.sum()):>7} {int(b.sum()):>7} {int(c.sum()):>7}   "
              f"{int((a != b).sum()):>5} {int((a != c).sum()):>5}")
    print(f"\ntime of {args.ticks} steps, medians of {args.repeat} interleaved runs (building excluded)")
    print(f"  {'':34s} {'wall s':>8} {'x floor':>8} {'CPU s':>8} {'x floor':>8}   wall of each run")
    walls, cpus = times.wall, times.cpu
    floor_wall, floor_cpu = statistics.median(walls["numpy"]), statistics.median(cpus["numpy"])
    for key, label in (("s2sim", f"s2sim chip engine ({kernel}, {ctx.spec.run.simulator.noc_fidelity})"),
                       ("sanafe", "SANA-FE detailed, 1 thread"),
                       ("sanafe_untraced", "  same, spikes not recorded"), ("numpy", "numpy loop (floor)")):
        wall, cpu = statistics.median(walls[key]), statistics.median(cpus[key])
        print(f"  {label:34s} {wall:8.3f} {wall / floor_wall:8.1f} {cpu:8.3f} {cpu / floor_cpu:8.1f}   "
              + ", ".join(f"{w:.3f}" for w in walls[key]))
    wall_ratio = statistics.median(walls["s2sim"]) / statistics.median(walls["sanafe"])
    cpu_ratio = statistics.median(cpus["s2sim"]) / statistics.median(cpus["sanafe"])
    print(f"  s2sim / SANA-FE: wall {wall_ratio:.2f}, CPU {cpu_ratio:.2f}  (issue 21 target: CPU <= 0.5)")
    stats = sim.machine.stats
    critical_ns = stats.time_done_ns[:stats.n_rows][:, sim.used_pes].max(axis=1)
    print(f"\nsimulated work per step: SANA-FE {sanafe_sim_s / args.ticks * 1e6:.1f} us on average (it starts the "
          f"next step when all cores are done); s2sim, the busiest PE's time from its timer tick: mean "
          f"{critical_ns.mean() / 1e3:.1f} us, max {critical_ns.max() / 1e3:.1f} us (steps are timer ticks of "
          f"{tick_ns / 1e6:g} ms)")
    return 0


def _version(sanafe) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("sanafe")
    except PackageNotFoundError:
        return getattr(sanafe, "__version__", "?")


if __name__ == "__main__":
    sys.exit(main())
