"""Host program for the LIF benchmark: build, place, route, run, report spikes per layer."""
from __future__ import annotations

import numpy as np

from s2sim.apps import AppError, AppResult, RunContext

from s2sim.runtime.shared import grouping_enabled

from .firmware import LifCore, LifGroup, PoissonSource
from .network import KEY_MASK, KEY_SHIFT, BuiltNetwork, build, input_rng
from .params import LifFirmwareParams, LifMapping, LifNetwork, decay


def place(ctx: RunContext, sim, built: BuiltNetwork, record: bool = True) -> dict[int, object]:
    """Load a firmware per slice and fill the multicast tables layer -> next layer."""
    net, tick_ns = built.net, ctx.spec.run.tick_ns
    fw_params = ctx.section(LifFirmwareParams, "firmware.params")
    alpha = decay(net, tick_ns)
    p_spike = net.input_rate_hz * tick_ns * 1e-9
    def phase_of(s) -> float:
        return (s.index * 7919 % 97) / 97 * fw_params.timer_phase_spread * tick_ns

    # group numerics: the PEs of one layer whose timers fire together share a LifGroup
    members: dict[tuple[int, float], list] = {}
    mine = [s for s in built.slices if sim.owns(s.pe)]  # all of them, but under MPI this rank's chips'
    if grouping_enabled(fw_params.group_numerics):
        for s in mine:
            if s.layer > 0:
                members.setdefault((s.layer, phase_of(s)), []).append(s)
    groups = {key: LifGroup([s.n for s in ss], alpha, net.threshold, net.reset) for key, ss in members.items()}
    firmwares = {}
    mapping = ctx.section(LifMapping, "mapping")
    rows_of = {}  # one pass over each projection for all its slices
    for layer in range(1, len(net.layers)):
        for s, rows in zip(built.slices_of(layer), built.slice_rows(layer, sparse=mapping.row_index == "sparse")):
            if sim.owns(s.pe):
                rows_of[s.pe] = rows
    # source PE -> its first presynaptic index, one dict per layer shared by all its PEs (a board's
    # layer has thousands of source PEs; a copy per PE took ~1.6 GB for lif_board48)
    row_pes = {layer: {p.pe: p.start for p in built.slices_of(layer - 1)} for layer in range(1, len(net.layers))}
    for s in mine:
        phase = phase_of(s)
        if s.layer == 0:
            fw = PoissonSource(s.n, p_spike, input_rng(built.seed, s.index), tick_ns, phase)
        else:
            fw = LifCore(s.n, rows_of.pop(s.pe), row_pes[s.layer], alpha,
                         net.threshold, net.reset, tick_ns, phase, record,
                         send=s.layer < len(net.layers) - 1, group=groups.get((s.layer, phase)),
                         member=members[(s.layer, phase)].index(s) if members else 0)
        firmwares[s.pe] = fw
    for s in built.slices:
        nxt = built.slices_of(s.layer + 1)
        if nxt:
            sim.machine.routing.add_multicast(s.pe << KEY_SHIFT, KEY_MASK, s.pe, [t.pe for t in nxt])
    for pe, fw in firmwares.items():
        sim.load(pe, fw)
    return firmwares


def run_ticks_with_progress(ctx: RunContext, sim, n_ticks: int, label: str) -> None:
    """Run ``n_ticks`` timer ticks in about 50 chunks, advancing the run's progress bar after each."""
    advance = ctx.progress(label, n_ticks)
    step = max(1, n_ticks // 50)
    for done in range(0, n_ticks, step):
        chunk = min(step, n_ticks - done)
        sim.run_ticks(chunk)
        advance(chunk)


def load_and_place(network_file, sets: list[str] = (), record: bool = True, recorder=None):
    """A network file's LIF network built and loaded on a fresh simulation, not yet run (for tools,
    benchmarks and tests that drive ``sim.run_ticks`` themselves): ``(ctx, sim, built, firmwares)``.
    ``recorder``: a trace recorder for the simulation (see ``s2sim.hw.chip.Recorder``)."""
    from s2sim.config import load_network
    from s2sim.hw.params import HwParams
    loaded = load_network(network_file, list(sets))
    ctx = RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=None,
                     progress=lambda label, total: (lambda n=1: None), recorder=recorder)
    built = build(ctx.section(LifNetwork, "network"), ctx.section(LifMapping, "mapping"), ctx.seed, ctx.hw.n_pes,
                  pes_per_chip=ctx.hw.pes_per_chip)
    sim = ctx.simulation()
    return ctx, sim, built, place(ctx, sim, built, record)


def raster(built: BuiltNetwork, firmwares: dict, layer: int, n_ticks: int) -> np.ndarray:
    out = np.zeros((n_ticks, built.net.layers[layer]), bool)
    for s in built.slices_of(layer):
        for t, fired in enumerate(firmwares[s.pe].spikes[:n_ticks]):
            out[t, s.start + fired] = True
    return out


#: sections of the network file this app reads (any other non-empty one is an error)
SECTIONS = ("network", "mapping", "firmware.params")


def run(ctx: RunContext) -> AppResult:
    net = ctx.section(LifNetwork, "network")
    mapping = ctx.section(LifMapping, "mapping")
    n_ticks = ctx.spec.run.ticks or 100
    try:
        built = build(net, mapping, ctx.seed, ctx.hw.n_pes, pes_per_chip=ctx.hw.pes_per_chip)
    except ValueError as err:
        raise AppError(f"{ctx.loaded.file}: mapping: {err}") from None
    sim = ctx.simulation()
    firmwares = place(ctx, sim, built)
    run_ticks_with_progress(ctx, sim, n_ticks, "lif_bench ticks")
    firmwares = sim.gather(("spikes",))  # under MPI, rank 0 gets every rank's PEs
    if not sim.is_root:
        return AppResult(sim=sim, samples=1, timesteps=n_ticks, ticks_per_sample=n_ticks, extra={})
    spikes = [int(raster(built, firmwares, layer, n_ticks).sum()) for layer in range(len(net.layers))]
    extra = {"layers": net.layers, "spikes_per_layer": spikes,
             "mean_rate_hz": [s / n / (n_ticks * ctx.spec.run.tick_ns * 1e-9)
                              for s, n in zip(spikes, net.layers)]}
    return AppResult(sim=sim, samples=1, timesteps=n_ticks, ticks_per_sample=n_ticks, extra=extra)


def validate(loaded) -> list[str]:
    """Check the app's own sections (``s2sim validate``) without running anything."""
    from s2sim.config import validate_section
    from s2sim.hw.params import HwParams
    file = str(loaded.file)
    net = validate_section(LifNetwork, loaded.spec.network, file, "network")
    mapping = validate_section(LifMapping, loaded.spec.mapping, file, "mapping")
    validate_section(LifFirmwareParams, loaded.spec.firmware.params, file, "firmware.params")
    hw = HwParams.from_arch(loaded.arch)
    n_pes = hw.n_pes
    try:
        built = build(net, mapping, loaded.spec.run.seed, n_pes, with_weights=False, pes_per_chip=hw.pes_per_chip)
    except ValueError as err:
        raise AppError(f"{file}: mapping: {err}") from None
    from s2sim.apps import pes_used_line
    return [pes_used_line(len(built.slices), n_pes)]
