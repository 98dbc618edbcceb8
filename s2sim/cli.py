"""Command line: the only module that parses argv or prints for the user.

User errors (bad YAML, unknown keys, missing files or data, a network that does not fit) print one
line naming the file/key/PE and exit with status 2, without a traceback.
"""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

import click
import rich.markup
from rich.console import Console
from rich.table import Table

from . import __version__

console = Console()
err_console = Console(stderr=True)


def _user_errors():
    from .apps import AppError
    from .config import ConfigError
    from .hw.sram import SramOverflowError
    errors = [ConfigError, AppError, SramOverflowError]
    try:
        from .data import DatasetError
        errors.append(DatasetError)
    except ImportError:  # pragma: no cover - data package optional during development
        pass
    return tuple(errors)


def fail(message: str, code: int = 2) -> None:
    # escaped: messages quote shapes and extras like ``[ticks, n]`` or ``s2sim[report]``, not markup
    err_console.print(f"[bold red]error:[/] {rich.markup.escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


@click.group()
@click.version_option(__version__, prog_name="s2sim")
def main() -> None:
    """s2sim: a cycle-approximate SpiNNaker2 simulator for on-chip learning firmware."""


# ---- run ---------------------------------------------------------------------------------------
@main.command()
@click.argument("network", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override any config key (repeatable).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory (default traces/<name>-<time>).")
@click.option("--trace", is_flag=True, help="Write a Perfetto timeline (trace.pftrace).")
@click.option("--trace-pes", default=None, metavar="LIST", help="Only trace these PEs, e.g. 0-3,7.")
@click.option("--trace-window", default=None, metavar="START:END", help="Only trace this time window (ms).")
@click.option("--trace-format", type=click.Choice(["perfetto", "json"]), default="perfetto", show_default=True)
@click.option("--fast", is_flag=True, help="Train with the vectorised reference; simulate timing on a few samples.")
@click.option("--timing-samples", type=click.IntRange(min=1), default=None, help="Samples simulated on the chip model.")
@click.option("--resume", type=click.Path(exists=True, file_okay=False, path_type=Path), help="Continue from a run directory's checkpoint.")
@click.option("--save-weights", type=click.Path(dir_okay=False, path_type=Path), help="Export trained weights (.npz).")
@click.option("--quiet", is_flag=True, help="No progress bars or tables.")
def run(network: Path, sets, out, trace, trace_pes, trace_window, trace_format, fast, timing_samples,
        resume, save_weights, quiet) -> None:
    """Simulate NETWORK.yaml and write summary.json + timesteps.csv to a run directory."""
    from .apps import RunContext, load_app
    from .config import load_network
    from .hw.params import HwParams
    from .profile.summary import build_summary, write_json_atomic, write_timesteps_csv
    from .progress import progress_factory

    try:
        loaded = load_network(network, sets)
        spec = loaded.spec
        app = load_app(spec.firmware.package)
        out_dir = out or (Path(spec.run.out) if spec.run.out else
                          Path("traces") / f"{spec.name}-{datetime.now():%Y%m%d-%H%M%S}")
        if resume is not None and out is None:
            out_dir = resume
        out_dir.mkdir(parents=True, exist_ok=True)

        def start_output() -> None:  # a rerun into the same folder is incomplete until done
            (out_dir / "summary.json").unlink(missing_ok=True)
        recorder = None
        if trace or spec.run.trace:
            try:
                from .profile.trace import TraceRecorder
            except ImportError:
                fail("--trace needs the profiler's trace writer (pip install 's2sim[report]')")
            try:
                recorder = TraceRecorder.from_options(trace_pes, trace_window, trace_format)
            except ValueError as err:
                fail(f"--trace options: {err}")
        hw = HwParams.from_arch(loaded.arch)
        t0 = time.perf_counter()
        with progress_factory(spec.run.progress and not quiet) as make_progress:
            ctx = RunContext(loaded=loaded, hw=hw, out_dir=out_dir, progress=make_progress, recorder=recorder,
                             options={"fast": fast, "timing_samples": timing_samples, "resume": resume,
                                      "save_weights": save_weights, "console": None if quiet else err_console},
                             start_output=start_output)
            result = app.run(ctx)
            start_output()  # for apps that never call it
        wall = time.perf_counter() - t0
    except KeyboardInterrupt:
        fail("interrupted; completed work is kept in the checkpoint (rerun with --resume)", 130)
    except _user_errors() as err:
        fail(str(err))
    summary = build_summary(
        result.sim, network=spec.name, arch_name=loaded.arch.name, config=loaded.resolved(),
        seed=spec.run.seed, samples=result.samples, timesteps=result.timesteps, tick_ns=spec.run.tick_ns,
        wall_time_s=wall, arch=loaded.arch, learning=result.learning, extra=result.extra, notes=result.notes)
    if spec.expect:
        summary["expect"] = check_expectations(spec.expect, summary)
    write_timesteps_csv(result.sim, out_dir / "timesteps.csv")
    if recorder is not None:
        recorder.write(out_dir, summary=summary)
    write_json_atomic(summary, out_dir / "summary.json")
    from .profile.report import auto_report
    _, report_msg = auto_report(out_dir)
    if not quiet:
        err_console.print(report_msg, highlight=False)
        for note in result.notes:
            err_console.print(f"[bold yellow]note:[/] {note}", highlight=False)
        for path in summary["diagnostics"]["unused_overrides"]:
            err_console.print(f"[bold yellow]warning:[/] override never read: {rich.markup.escape(path)} "
                              "(it changed nothing)", highlight=False)
        print_summary(summary, out_dir)


def check_expectations(expect: dict, summary: dict) -> dict:
    """Compare ``expect: {memory_total_bytes: ..., ...}`` with what the run measured."""
    measured = {"memory_total_bytes": summary["memory"]["total_bytes"],
                "max_pe_bytes": summary["memory"]["max_pe_bytes"],
                "pes_used": summary["pes_used"],
                "timestep_max_ns": summary["latency"]["timestep_ns"]["max"]}
    learning_state = (summary.get("app") or {}).get("learning_state_bytes")
    if learning_state is not None:
        measured["learning_state_bytes"] = learning_state
    out = {}
    for key, want in expect.items():
        got = measured.get(key)
        out[key] = {"expected": want, "measured": got, "ok": got is not None and got == want}
    return out


def print_summary(s: dict, out_dir: Path) -> None:
    t = Table(title=f"s2sim run: {s['network']} on {s['arch']}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    lat, mem, en = s["latency"], s["memory"], s["energy"]
    t.add_row("PEs used", str(s["pes_used"]))
    t.add_row("samples / timesteps", f"{s['samples']} / {s['timesteps']}")
    t.add_row("memory total / fullest PE", f"{mem['total_bytes']:,} B / {mem['max_pe_bytes']:,} B of "
              f"{mem['per_pe'][0]['capacity_bytes']:,} B" if mem["per_pe"] else "-")
    ts = lat["timestep_ns"]
    t.add_row("timestep latency (critical PE)", f"median {ts['median'] / 1e3:.1f} µs, max {ts['max'] / 1e3:.1f} µs "
              f"(tick {lat['tick_ns'] / 1e3:.0f} µs, {'real time' if ts['max'] <= lat['tick_ns'] else 'NOT real time'})")
    phases = sorted(lat["per_phase_ns"].items(), key=lambda kv: -kv[1])[:5]
    t.add_row("largest phases / step", ", ".join(f"{k} {v / 1e3:.1f} µs" for k, v in phases))
    t.add_row("energy", f"{en['total_j'] * 1e3:.3f} mJ total, {en['per_sample_j'] * 1e3:.3f} mJ per sample")
    t.add_row("traffic", f"{s['traffic']['packets']:,} packets, {s['traffic']['dropped']} dropped")
    d = s["diagnostics"]
    t.add_row("warnings", ", ".join(f"{k}={v}" for k, v in d.items() if k != "per_pe" and v) or "none")
    if "learning" in s:
        ln = s["learning"]
        acc = ", ".join(f"{k} {v:.2%}" for k, v in ln.items() if k.endswith("accuracy") and isinstance(v, float))
        t.add_row("accuracy", acc or "-")
    t.add_row("sim / wall time", f"{s['sim_time_s']:.3f} s simulated in {s['wall_time_s']:.2f} s")
    t.add_row("output", str(out_dir))
    console.print(t)


# ---- validate ----------------------------------------------------------------------------------
@main.command()
@click.argument("network", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE")
def validate(network: Path, sets) -> None:
    """Check NETWORK.yaml (and its architecture) without running it."""
    from .apps import load_app
    from .config import load_network
    try:
        loaded = load_network(network, sets)
        app = load_app(loaded.spec.firmware.package)
        if hasattr(app, "validate"):
            app.validate(loaded)
    except _user_errors() as err:
        fail(str(err))
    console.print(f"{network}: ok ({loaded.spec.firmware.package} on {loaded.arch.name}, {loaded.arch.n_pes} PEs)")


# ---- arch --------------------------------------------------------------------------------------
@main.group()
def arch() -> None:
    """Architecture descriptions."""


@arch.command("list")
def arch_list() -> None:
    from .config import list_arches
    for name in list_arches():
        console.print(name)


@arch.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def arch_show(name: str, as_json: bool) -> None:
    """Print every parameter of architecture NAME with its source and confidence."""
    from .config import ConfigError, load_arch
    try:
        a = load_arch(name)
    except ConfigError as err:
        fail(str(err))
    prov = a.provenance()
    if as_json:
        console.print_json(json.dumps({k: v.model_dump() for k, v in prov.items()}))
        return
    t = Table(title=f"{a.name}: {a.description}", title_justify="left")
    for col in ("parameter", "value", "confidence", "source"):
        t.add_column(col, overflow="fold")
    for key, s in prov.items():
        t.add_row(key, str(s.value), s.confidence, s.source)
    console.print(t)
    console.print(f"default performance level: {a.default_performance_level}; {a.n_pes} PEs")


# ---- data --------------------------------------------------------------------------------------
@main.group()
def data() -> None:
    """Datasets."""


@data.command("prepare")
@click.argument("dataset", type=click.Choice(["gsc", "fsdd"]))
@click.option("--source", required=True, type=click.Path(path_type=Path), help="Folder with the raw dataset.")
@click.option("--seed", default=0, show_default=True)
def data_prepare(dataset: str, source: Path, seed: int) -> None:
    """Extract features once into the cache (log-mel + deltas, 100 frames)."""
    from .data import DatasetError, load_dataset
    from .progress import progress_factory
    try:
        with progress_factory(True) as make:
            ds = load_dataset({"name": dataset, "path": str(source), "fallback": "error"}, seed=seed,
                              progress=make)
    except DatasetError as err:
        fail(str(err))
    sizes = ", ".join(f"{k} {len(v.y)}" for k, v in ds.splits.items())
    console.print(f"{dataset}: {sizes}; {len(ds.skipped)} files skipped")


def _register_profile_commands() -> None:
    """``s2sim report`` and ``s2sim compare`` live with the profiler."""
    try:
        from .profile.commands import compare, report
    except ImportError:  # profiler not installed in this build
        return
    main.add_command(report)
    main.add_command(compare)


_register_profile_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
