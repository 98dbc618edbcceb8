"""What every fuzz case checks, and the mutations it is built from.

The property (issue 10): whatever a user feeds the CLI, it ends with exit 0, or with exit 2 and one
line ``error: ...`` on stderr — never a traceback, never a hang. The CLI is called in-process
(click's CliRunner) for speed; ``run_subprocess`` samples the real entry point.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import strategies as st

from s2sim.cli import main

REPO = Path(__file__).resolve().parents[2]
NETWORKS = sorted((REPO / "networks").glob("*.yaml"))
#: a case slower than this in `validate` counts as a hang. Typical cases take ~0.05 s in-process; the
#: limit is generous because CI machines are shared (one 25 s stall was seen at load average 19)
VALIDATE_LIMIT_S = 30.0


def invoke(args: list[str], limit_s: float) -> tuple[int, str, float]:
    """Run the CLI in-process; (exit code, stderr, seconds). Fails on any escaped exception."""
    t0 = time.perf_counter()
    res = CliRunner().invoke(main, args, catch_exceptions=True)
    took = time.perf_counter() - t0
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback
        tb = "".join(traceback.format_exception(res.exception))
        raise AssertionError(f"traceback for {args}:\n{tb}")
    _log(args[0], res.exit_code, took)
    assert_outcome(res.exit_code, res.stderr, args)
    assert took < limit_s, f"{args} took {took:.1f} s (limit {limit_s} s)"
    return res.exit_code, res.stderr, took


def _log(command: str, code: int, took: float) -> None:
    """With $S2SIM_FUZZ_LOG set, one line per case (command, exit code, seconds) for the note's counts."""
    log = os.environ.get("S2SIM_FUZZ_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(f"{command}\t{code}\t{took:.3f}\n")


def assert_outcome(code: int, stderr: str, args: Any) -> None:
    """Exit 0, or exit 2 with exactly one ``error:`` line and no traceback (exit 1: the run is complete but its
    report could not be written, said in that one line)."""
    assert "Traceback" not in stderr, (args, stderr)
    assert code in (0, 1, 2), (args, code, stderr)
    if code in (1, 2):
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:")]
        assert len(errors) == 1 and errors[0] == lines[-1], (args, stderr)
        assert code == 2 or errors[0].startswith("error: report not written"), (args, stderr)


def run_subprocess(args: list[str], cwd: Path, timeout_s: float = 120) -> tuple[int, str]:
    res = subprocess.run([sys.executable, "-m", "s2sim.cli", *args], cwd=cwd, capture_output=True,
                         text=True, timeout=timeout_s)
    assert_outcome(res.returncode, res.stderr, args)
    return res.returncode, res.stderr


# ---- mutations of a parsed network file -----------------------------------------------------------
def paths_of(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a nested mapping (sections and leaves)."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out += paths_of(v, prefix + (k,))
    return out


BAD_VALUES = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, -1e-9, 0.0, 1e308, 10**30, -(10**30), True, None,
                     "", "x", "[red]bold[/]", [], {}, [1, 2], {"a": 1}, "1e999", 2**64]),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)


@st.composite
def mutated_network(draw) -> tuple[str, str]:
    """(network file name, YAML text) of a shipped network with one to three mutations."""
    path = draw(st.sampled_from(NETWORKS))
    data = yaml.safe_load(path.read_text())
    for _ in range(draw(st.integers(1, 3))):
        keys = paths_of(data)
        where = draw(st.sampled_from(keys))
        parent = data
        for k in where[:-1]:
            parent = parent[k]
        if not isinstance(parent, dict) or where[-1] not in parent:
            continue
        kind = draw(st.sampled_from(["delete", "value", "unknown", "enum", "deep"]))
        if kind == "delete":
            del parent[where[-1]]
        elif kind == "value":
            parent[where[-1]] = draw(BAD_VALUES)
        elif kind == "unknown":
            target = parent[where[-1]] if isinstance(parent[where[-1]], dict) else parent
            target[draw(st.sampled_from(["bogus", "n_hidden", "Seed", "tick"]))] = draw(BAD_VALUES)
        elif kind == "enum":
            parent[where[-1]] = draw(st.sampled_from(["nonsense", "ALIF", "euler ", "chip2", "dense\n"]))
        else:
            depth = draw(st.integers(20, 400))
            nested: Any = 1
            for _ in range(depth):
                nested = {"a": nested} if draw(st.booleans()) else [nested]
            parent[where[-1]] = nested
    try:
        text = yaml.safe_dump(data, sort_keys=False)
    except RecursionError:  # nesting too deep for the dumper itself: write it by hand
        text = "name: deep\nfirmware: {package: eprop}\nnetwork: " + "[" * 3000 + "]" * 3000 + "\n"
    return path.name, text


SET_KEYS = ["run.seed", "run.tick_ns", "run.ticks", "run.record_timesteps", "run.performance_level",
            "network.n_rec", "network.n_in", "network.n_steps", "network.tau_m", "network.v_th",
            "network.layers", "network.threshold", "network.weight_decay", "network.batch",
            "network.tau_mem_ms", "network.p_connect", "mapping.pes", "mapping.first_pe",
            "mapping.neurons_per_pe", "mapping.pes_per_layer", "dataset.n_train", "dataset.n_test",
            "dataset.name", "dataset.path", "training.epochs", "training.max_batches", "arch",
            "arch.pe.sram_bytes", "arch.noc.clock_mhz", "arch.performance_levels", "name", "firmware.package",
            "run", "bogus.key", "network.bogus", "arch.bogus.x", "a..b", ".x", "x.", "run.seed.deeper"]
SET_VALUES = st.one_of(
    st.sampled_from([".nan", ".inf", "-.inf", "-1", "0", "1e308", "100000", "4294967296", "[]", "{}", "null",
                     "'x'", "[1, 2, 3]", "[0, 5]", "true", "{a: {b: 1}}", "../../etc/passwd", "/etc/passwd",
                     "[red]x[/]", "\u00e9", ": :", "[", "]]", "!!python/object:os.system ls", "1.5", "-0.0"]),
    st.text(max_size=10),
)


@st.composite
def set_expressions(draw) -> list[str]:
    n = draw(st.integers(1, 3))
    out = []
    for _ in range(n):
        key = draw(st.sampled_from(SET_KEYS))
        value = draw(SET_VALUES)
        out.append(f"{key}={value}" if draw(st.integers(0, 9)) else draw(st.sampled_from([key, f"={value}", "=", key + "="])))
    return out
