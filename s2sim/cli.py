"""Command line: the only module that parses argv or prints for the user.

User errors (bad YAML, unknown keys, missing files or data, a network that does not fit) print one
line naming the file/key/PE and exit with status 2, without a traceback. A run that is complete but whose
report could not be written (a full disk) says so in one line and exits with status 1.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__, mpi, outdir

#: exit status of a complete run whose report.html could not be written (2 means nothing usable was made)
REPORT_NOT_WRITTEN = 1

console = Console()
err_console = Console(stderr=True)


def _user_errors():
    from .run import USER_ERRORS
    return USER_ERRORS


def fail(message: str, code: int = 2) -> None:
    """One plain-text line on stderr (user values are never read as rich markup), then exit. Under MPI
    only rank 0 says it: every rank reads the same input and the split's checks are collective, so every
    rank stops with the same line (mpirun would print it once per rank)."""
    if mpi.is_root():
        say("error", one_line(message))
    sys.exit(code)


def one_line(message: str) -> str:
    """A message that stays on one line even when a user value in it holds line breaks: every character
    ``str.splitlines`` breaks at (``\\x1e``, ``\\u2028``, ...) and every other control character is escaped."""
    return "".join(_escaped(c) for c in message)


def _escaped(c: str) -> str:
    if c == "\t" or (c.isprintable() and len(f"x{c}x".splitlines()) == 1):
        return c
    return {"\n": "\\n", "\r": "\\r"}.get(c) or c.encode("unicode_escape").decode("ascii")


def say(label: str, message: str) -> None:
    """``label: message`` on stderr, the label styled, the message printed verbatim."""
    line = Text(f"{label}:", style="bold red" if label == "error" else "bold yellow")
    line.append(f" {message}")
    err_console.print(line, highlight=False, soft_wrap=True)


class LazyGroup(click.Group):
    """A command group whose heavy subcommands are imported only when they are invoked.

    ``lazy`` maps a command name to ``"module:attribute"``; importing the profiler (matplotlib
    helpers, pandas-free tables) for every ``s2sim validate`` would cost seconds. An import
    error is a real error here, never a silently missing command.
    """

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands:
            import importlib
            module, attr = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module, __package__), attr), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, lazy={"report": ".profile.commands:report",
                                  "compare": ".profile.commands:compare",
                                  "sweep": ".sweep.commands:sweep"})
@click.version_option(__version__, prog_name="s2sim")
def main() -> None:
    """s2sim: a cycle-approximate SpiNNaker2 simulator for on-chip learning firmware."""


# ---- run ---------------------------------------------------------------------------------------
@main.command()
@click.argument("network", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override any config key (repeatable).")
@click.option("--out", type=click.Path(), callback=outdir.non_empty_path,  # a file there: RunDir.claim says so in one line
              help="Run directory (default traces/<name>-<time>).")
@click.option("--trace", is_flag=True, help="Write a Perfetto timeline (trace.pftrace).")
@click.option("--trace-pes", default=None, metavar="LIST", help="Only trace these PEs, e.g. 0-3,7.")
@click.option("--trace-window", default=None, metavar="START:END", help="Only trace this time window (ms).")
@click.option("--trace-format", type=click.Choice(["perfetto", "json"]), default="perfetto", show_default=True)
@click.option("--reference-training", "--fast", "reference_training", is_flag=True,
              help="Train with the vectorised reference; simulate timing on a few samples "
                   "(--fast is the older name of this switch).")
@click.option("--timing-samples", type=click.IntRange(min=1), default=None, help="Samples simulated on the chip model.")
@click.option("--resume", type=click.Path(path_type=Path), help="Continue from a run directory's checkpoint.")
@click.option("--save-weights", type=click.Path(dir_okay=False, path_type=Path), help="Export trained weights (.npz).")
@click.option("--quiet", is_flag=True, help="No progress bars or tables.")
@click.option("--force", is_flag=True, help="Reuse an --out folder that already holds a run (its old outputs are removed).")
@click.option("--ranks", type=int, default=1, show_default=True,
              help="Split a board (arch.board) over this many MPI processes (runs mpirun; same as "
                   "mpirun -n N s2sim run ...; needs pip install 's2sim[mpi]').")
def run(network: Path, sets, out, trace, trace_pes, trace_window, trace_format, reference_training, timing_samples,
        resume, save_weights, quiet, force, ranks) -> None:
    """Simulate NETWORK.yaml and write summary.json + timesteps.csv to a run directory."""
    from .config import load_network
    from .run import RunInterrupted, RunOptions, run_network

    if ranks < 1:
        fail(f"--ranks {ranks}: expected a number of MPI processes >= 1")
    if resume is not None and not resume.is_dir():
        fail(f"--resume {resume}: {'is a file' if resume.exists() else 'does not exist'}; "
             "expected the folder of an earlier run (its checkpoint)")
    if ranks > 1 or mpi.launched_size() > 1:
        _run_under_mpi(ranks)

    out_dir = out
    try:
        loaded = load_network(network, sets)
        options = RunOptions(out_dir=out, reference_training=reference_training, timing_samples=timing_samples,
                             resume=resume, save_weights=save_weights, force=force, trace=trace,
                             trace_pes=trace_pes, trace_window=trace_window, trace_format=trace_format,
                             progress=not quiet, console=None if quiet else err_console)
        outcome = run_network(loaded, options)
    except RunInterrupted as stop:
        if stop.checkpoint is not None:
            fail(f"interrupted; completed work is kept in {stop.checkpoint} "
                 f"(rerun with --resume {stop.out_dir})", 130)
        fail("interrupted; nothing was kept (this run writes no checkpoint)", 130)
    except KeyboardInterrupt:  # before the run started
        fail("interrupted; nothing was kept", 130)
    except _user_errors() as err:
        fail(str(err))
    except OSError as err:  # disk full, folder removed or made read-only during the run
        fail(f"{err.filename or out_dir or 'the run folder'}: cannot write run output "
             f"({err.strerror or type(err).__name__})")
    if outcome.summary is None:  # an MPI rank other than 0: rank 0 reports
        return
    summary, out_dir, result = outcome.summary, outcome.out_dir, outcome.app
    from .profile.report import auto_report
    try:
        report = auto_report(out_dir)
    except KeyboardInterrupt:  # the run itself is complete: summary.json is written
        fail(f"interrupted while writing the report; the run in {out_dir} is complete "
             f"(rebuild the report with: s2sim report {out_dir})", 130)
    if not quiet and not report.failed:
        err_console.print(Text(report.message), highlight=False)
        for note in result.notes:
            say("note", note)
        for path in summary["diagnostics"]["unused_overrides"]:
            say("warning", f"override never read: {path} (it changed nothing)")
        if result.skipped_files:
            shown = "; ".join(f"{f} ({r})" for f, r in result.skipped_files[:3])
            more = f"; ... {len(result.skipped_files) - 3} more" if len(result.skipped_files) > 3 else ""
            say("note", f"{len(result.skipped_files)} input files skipped (listed in summary.json "
                        f"skipped_files): {shown}{more}")
        print_summary(summary, out_dir)
    if report.failed:  # said even under --quiet: the run is complete, its report is not there
        fail(report.message, REPORT_NOT_WRITTEN)


def _run_under_mpi(ranks: int) -> None:
    """``--ranks N`` in one process: start N ranks under mpirun and exit with their status. Under
    mpirun already: ``--ranks`` must be 1 or the launcher's count."""
    size = mpi.launched_size()
    if size > 1:
        if ranks not in (1, size):
            fail(f"--ranks {ranks}: this process is one of {size} MPI ranks already (drop --ranks or make it {size})")
        return
    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--ranks":
            skip = True
        elif not arg.startswith("--ranks="):
            argv.append(arg)
    try:
        cmd = mpi.mpirun_command(ranks, argv)
    except mpi.MpiUnavailable as err:
        fail(str(err))
    sys.exit(subprocess.call(cmd))


#: what an accuracy in the summary table is, where its name alone would mislead
ACCURACY_NOTES = {"online_train_accuracy": " (last epoch, each sample scored before its own update, from "
                                           "the weights training had then: not comparable to train_accuracy, "
                                           "which re-scores the final weights)"}


def print_summary(s: dict, out_dir: Path) -> None:
    t = Table(title=Text(f"s2sim run: {s['network']} on {s['arch']}"), show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    lat, mem, en = s["latency"], s["memory"], s["energy"]
    t.add_row("PEs used", str(s["pes_used"]))
    engine = str((s.get("learning") or {}).get("engine") or (s.get("app") or {}).get("engine") or "chip")
    if engine.startswith("reference"):  # trained off-chip: every chip figure below is of the timed part only
        t.add_row("training engine", f"{engine}: latency, energy, traffic and sim time below cover only the "
                                     "samples simulated on the chip")
        t.add_row("simulated samples / timesteps", f"{s['samples']} / {s['timesteps']}")
    else:
        t.add_row("samples / timesteps", f"{s['samples']} / {s['timesteps']}")
    t.add_row("memory total / fullest PE", f"{mem['total_bytes']:,} B / {mem['max_pe_bytes']:,} B of "
              f"{mem['per_pe'][0]['capacity_bytes']:,} B" if mem["per_pe"] else "-")
    ts = lat["timestep_ns"]
    t.add_row("timestep latency (critical PE)", f"median {ts['median'] / 1e3:.1f} µs, max {ts['max'] / 1e3:.1f} µs "
              f"(tick {lat['tick_ns'] / 1e3:.0f} µs, {'real time' if ts['max'] <= lat['tick_ns'] else 'NOT real time'})")
    if lat.get("bracket"):
        from .profile.bracket import band_text
        t.add_row("cycle bracket (low-high)", band_text(lat))
    phases = sorted(lat["per_phase_ns"].items(), key=lambda kv: -kv[1])[:5]
    t.add_row("largest phases / step", ", ".join(f"{k} {v / 1e3:.1f} µs" for k, v in phases))
    t.add_row("energy", f"{en['total_j'] * 1e3:.3f} mJ total, {en['per_sample_j'] * 1e3:.3f} mJ per sample")
    t.add_row("traffic", f"{s['traffic']['packets']:,} packets, {s['traffic']['dropped']} dropped")
    if s.get("board"):
        from .profile.board_summary import board_line
        t.add_row("board", board_line(s["board"]))
    from .profile.tables import chip_warnings, simulator_rows
    t.add_row("warnings", ", ".join(f"{k}={v}" for k, v in chip_warnings(s).items()) or "none")
    sim_rows = simulator_rows(s)
    if sim_rows:
        t.add_row("simulator", ", ".join(f"{r['counter']}={r['count']}" for r in sim_rows) + " (bookkeeping, not chip warnings)")
    if s.get("resume"):
        r = s["resume"]
        t.add_row("resumed", f"from {r['resumed_from']}; summary covers {r['covers_samples']} samples"
                  + ("" if r.get("covers_whole_run") else " (this part only)"))
    if "learning" in s:
        ln = s["learning"]
        acc = ", ".join(f"{k} {v:.2%}{ACCURACY_NOTES.get(k, '')}" for k, v in ln.items()
                        if k.endswith("accuracy") and isinstance(v, float))
        t.add_row("accuracy", acc or "-")
    t.add_row("sim / wall time", f"{s['sim_time_s']:.3f} s simulated in {s['wall_time_s']:.2f} s")
    t.add_row("output", Text(str(out_dir)))
    console.print(t)


# ---- validate ----------------------------------------------------------------------------------
@main.command()
@click.argument("network", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE")
def validate(network: Path, sets) -> None:
    """Check NETWORK.yaml (and its architecture) without running it; a study file: every point."""
    from .apps import check_app, load_app
    from .config import load_network
    from .sweep.commands import validate_study
    if validate_study(network, sets):
        return
    try:
        loaded = load_network(network, sets)
        notes = check_app(load_app(loaded.spec.firmware.package), loaded)
    except _user_errors() as err:
        fail(str(err))
    console.print(Text(f"{network}: ok ({loaded.spec.firmware.package} on {loaded.arch.name})"))
    for line in notes:
        console.print(Text(line))


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
    t = Table(title=Text(f"{a.name}: {a.description}"), title_justify="left")
    # parameter paths are never wrapped: they are copied into `--set arch.<path>=...`
    widest = max((len(k) for k in prov), default=9)
    t.add_column("parameter", no_wrap=True, min_width=widest)
    for col in ("value", "confidence", "source"):
        t.add_column(col, overflow="fold")
    for key, s in prov.items():
        t.add_row(Text(key), Text(str(s.value)), s.confidence, Text(s.source))
    wide = Console(width=max(console.width, widest + 60)) if not console.is_terminal else console
    wide.print(t)
    console.print(Text(f"default performance level: {a.default_performance_level}; {a.n_pes} PEs; "
                       f"cycle model: {a.cycle_model} (kernels{'' if a.cycle_model == 'nominal' else '_' + a.cycle_model}; "
                       "nominal | low | high, docs/fidelity.md)"))


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
    from .progress import dataset_progress, progress_factory
    try:
        with progress_factory(True) as make:
            ds = load_dataset({"name": dataset, "path": str(source), "fallback": "error"}, seed=seed,
                              progress=dataset_progress(make))
    except DatasetError as err:
        fail(str(err))
    sizes = ", ".join(f"{k} {len(v.y)}" for k, v in ds.splits.items())
    console.print(Text(f"{dataset}: {sizes}; {len(ds.skipped)} files skipped"))
    for name, reason in ds.skipped[:10]:
        say("skipped", f"{name}: {reason}")
    if len(ds.skipped) > 10:
        say("skipped", f"... and {len(ds.skipped) - 10} more")


if __name__ == "__main__":  # pragma: no cover
    main()
