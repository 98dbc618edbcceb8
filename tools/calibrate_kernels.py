"""Derive the firmware's kernel cycle table from compiled code.

Compiles every ``firmware_models/<algo>/kernels/*.c`` for the Cortex-M4F with arm-none-eabi-gcc,
finds each kernel's loops in the assembly (a backward branch closes a loop), and runs llvm-mca's
Cortex-M4 pipeline model on each loop body (cycles per iteration, steady state) and on the code
outside the loops (per-call overhead). Code bytes per kernel come from ``arm-none-eabi-size`` on
the object (one section per function) and stack bytes from ``-fstack-usage``.

Then runs every kernel on Unicorn's Cortex-M4 emulator (``kernel_trace.py``) for two bounds of its
table loop, checks its outputs against numpy (``kernel_cases.py``) and costs the executed
instructions with ARM's Cortex-M4 timing rules at a low and a high setting: the cycle bracket
around llvm-mca's nominal figure (``cycles_per_iteration_low``/``_high`` per loop).

Writes ``firmware_models/<algo>/kernels/calibration.json`` (one per algorithm, next to the C it
describes) and rewrites only the ``kernels:``, ``kernels_low:`` and ``kernels_high:`` blocks of
``s2sim/arch/spinnaker2.yaml`` in place.
``--check`` instead verifies that the YAML block is what the committed JSON says (no toolchain
needed: this is what CI runs when the compilers are absent).

llvm-mca counts a taken branch as one issue cycle; the Cortex-M4 refills its pipeline on a taken
branch (1 + P cycles, P >= 1), so each iteration adds P for the loop's backward branch and for every
taken forward branch on its path. ``bl`` to ``expf``/``logf``/the exp accelerator is costed from the
arch table (``core_cycles.expf`` / ``logf``, ``accelerators.exp_latency_cycles``), not by llvm-mca.

Needs arm-none-eabi-gcc/binutils, llvm-mca and the ``unicorn`` package (``pip install .[calibrate]``).

Usage:  python tools/calibrate_kernels.py [--check]
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import kernel_trace as kt  # noqa: E402
ARCH_YAML = REPO / "s2sim" / "arch" / "spinnaker2.yaml"
GCC, MCA, SIZE = "arm-none-eabi-gcc", "llvm-mca", "arm-none-eabi-size"
CFLAGS = ["-O2", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-mthumb"]
EXTRA_FLAGS = ["-ffunction-sections", "-fstack-usage"]  # one section per kernel (its size); stack use
MCA_FLAGS = ["-mtriple=thumbv7em-none-eabihf", "-mcpu=cortex-m4"]
MCA_ITERATIONS = 200
BRANCH_REFILL_CYCLES = 1  # P in 1 + P (TI SWCU192 Table 3-25, P = 1-3); llvm-mca counts the 1
CALLS = {"expf": "expf", "logf": "logf", "s2_exp_accel": "exp_accel"}  # callee -> cost name
TRACE_BOUNDS = (8, 16)  # table-loop bounds of the two emulator runs (the slope cancels fixed costs)
TRACE_SEED = 23
NUMERICS_TOLERANCE = 1e-5  # |emulator - numpy| / (1 + |numpy|): float32 and FMA rounding, not a bug


@dataclass(frozen=True)
class KernelSpec:
    """One kernel: the arch-table name the firmware uses, where its C lives, and its loop names
    (outermost first, in order of appearance). ``table_loop`` is the loop whose per-iteration cost
    is the arch table's value (the firmware charges ``core.kernel(name, iterations of that loop)``)."""
    name: str
    algo: str
    function: str
    loops: tuple[str, ...]
    table_loop: str
    doc: str


KERNELS = (
    KernelSpec("dense_mac", "eprop", "dense_mac", ("post", "pre"), "pre",
               "dense float forward MAC, W [pre][post], per synapse"),
    KernelSpec("event_add_dense", "eprop", "event_add_dense", ("post",), "post",
               "event-driven dense row add, per spike x post neuron"),
    KernelSpec("eprop_neuron_update", "eprop", "eprop_neuron_update", ("neuron",), "neuron",
               "ALIF neuron update, per neuron"),
    KernelSpec("eprop_surrogate_expf", "eprop", "eprop_surrogate_expf", ("neuron",), "neuron",
               "surrogate psi + coefficients with libm expf, per neuron (expf calls extra)"),
    KernelSpec("eprop_surrogate_accel", "eprop", "eprop_surrogate_accel", ("neuron",), "neuron",
               "surrogate psi + coefficients with the exp accelerator, per neuron (exp latency extra)"),
    KernelSpec("eprop_eligibility_post_pre", "eprop", "eprop_eligibility_post_pre", ("post", "pre"), "pre",
               "e-prop eligibility, layout lean [post][pre], per synapse"),
    KernelSpec("eprop_eligibility_pre_post", "eprop", "eprop_eligibility_pre_post", ("pre", "post"), "post",
               "e-prop eligibility, layout lean, [pre][post], per synapse"),
    KernelSpec("eprop_eligibility_pre_post_row", "eprop", "eprop_eligibility_pre_post", ("pre", "post"), "pre",
               "e-prop eligibility, layout lean, [pre][post], outer loop per presynaptic row"),
    KernelSpec("eprop_eligibility_paper", "eprop", "eprop_eligibility_paper", ("pre", "post"), "post",
               "e-prop eligibility, layout paper (per-synapse eps^v), [pre][post], per synapse"),
    KernelSpec("eprop_eligibility_paper_row", "eprop", "eprop_eligibility_paper", ("pre", "post"), "pre",
               "e-prop eligibility, layout paper, outer loop per presynaptic row"),
    KernelSpec("eprop_autapse_zero", "eprop", "eprop_autapse_zero", ("neuron",), "neuron",
               "e-prop autapse diagonal reset after the eligibility kernel (S16), per own neuron"),
    KernelSpec("eprop_eligibility_closed_form", "eprop", "eprop_eligibility_closed_form", ("pre", "post"), "post",
               "e-prop eligibility, closed-form E, [pre][post], per synapse"),
    KernelSpec("eprop_eligibility_closed_form_row", "eprop", "eprop_eligibility_closed_form", ("pre", "post"),
               "pre", "e-prop eligibility, closed-form E, outer loop per presynaptic row"),
    KernelSpec("eprop_eps_v", "eprop", "eprop_eps_v", ("pre",), "pre",
               "e-prop eps^v per presynaptic neuron, per input"),
    KernelSpec("eprop_readout", "eprop", "eprop_readout", ("out", "neuron"), "neuron",
               "readout partial sum, W_out [neuron][out] (strided column), per neuron x output"),
    KernelSpec("eprop_readout_row", "eprop", "eprop_readout", ("out", "neuron"), "out",
               "readout partial sum, outer loop per output (acc init, y += acc)"),
    KernelSpec("eprop_learning_signal", "eprop", "eprop_learning_signal", ("neuron", "out"), "out",
               "learning signal W_out err / T, W_out [neuron][out] (contiguous row), per neuron x output"),
    KernelSpec("eprop_learning_signal_row", "eprop", "eprop_learning_signal", ("neuron", "out"), "neuron",
               "learning signal, outer loop per neuron (scale by 1/T, store)"),
    KernelSpec("adam_update", "eprop", "adam_update", ("pre", "post"), "post",
               "fused gradient + L2 + Adam, [pre][post], per weight"),
    KernelSpec("adam_update_row", "eprop", "adam_update", ("pre", "post"), "pre",
               "fused gradient + L2 + Adam, outer loop per weight row"),
    KernelSpec("eventprop_receive_spike", "eventprop", "eventprop_receive_spike", ("post",), "post",
               "EventProp input spike: record + weight column (W [post][pre], strided) into the input, "
               "per spike x post neuron"),
    KernelSpec("eventprop_error_in", "eventprop", "eventprop_error_in", ("packet",), "packet",
               "EventProp received error packet, per packet"),
    KernelSpec("eventprop_forward_step", "eventprop", "eventprop_forward_step", ("neuron",), "neuron",
               "EventProp LIF forward step, per neuron (spike record extra)"),
    KernelSpec("eventprop_adjoint_step", "eventprop", "eventprop_adjoint_step", ("neuron",), "neuron",
               "EventProp adjoint step, per neuron"),
    KernelSpec("eventprop_adjoint_jump", "eventprop", "eventprop_adjoint_jump", ("spike",), "spike",
               "EventProp adjoint jump, per own spike"),
    KernelSpec("eventprop_grad_accumulate", "eventprop", "eventprop_grad_accumulate", ("post",), "post",
               "EventProp gradient accumulation, per input spike x post neuron"),
    KernelSpec("eventprop_error_out", "eventprop", "eventprop_error_out", ("post",), "post",
               "EventProp backward error, per input spike x post neuron"),
    KernelSpec("eventprop_loss", "eventprop", "eventprop_loss", ("sum", "grad"), "grad",
               "EventProp TTFS loss gradient, per output neuron (expf calls extra)"),
    KernelSpec("event_add", "lif_inference", "event_add", ("synapse",), "synapse",
               "event-driven synaptic row add (weight + 16-bit index), per synapse"),
    KernelSpec("lif_neuron_update", "lif_inference", "lif_neuron_update", ("neuron",), "neuron",
               "LIF neuron update, per neuron (spike extra)"),
)

# ---------------------------------------------------------------------------------------------------------
# assembly: functions, loops, conditional blocks

_BRANCH = re.compile(r"^(b|b(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)|cbz|cbnz)(\.n|\.w)?$")


@dataclass
class Line:
    label: str | None = None
    text: str = ""  # instruction text (no comment), "" for a label line

    @property
    def mnemonic(self) -> str:
        return self.text.split()[0] if self.text else ""

    def target(self) -> str | None:
        if _BRANCH.match(self.mnemonic):
            return self.text.replace(",", " ").split()[-1]
        return None

    @property
    def unconditional(self) -> bool:
        return self.mnemonic in ("b", "b.n", "b.w")

    def callee(self) -> str | None:
        return self.text.split()[1] if self.mnemonic == "bl" else None


def function_lines(asm: str, function: str) -> list[Line]:
    """Instructions and local labels of ``function`` up to its literal pool."""
    out: list[Line] = []
    inside = False
    for raw in asm.splitlines():
        text = raw.split("@", 1)[0].rstrip()
        if not inside:
            inside = text == f"{function}:"
            continue
        if text.startswith(f"\t.size\t{function},"):
            break
        if re.match(r"^\.?\w+:$", text):
            out.append(Line(label=text[:-1]))
        elif text.startswith("\t") and text.strip() and not text.strip().startswith("."):
            out.append(Line(text=" ".join(text.split())))
    if not out:
        raise ValueError(f"function {function} not found in the assembly")
    return out


@dataclass
class Loop:
    start: int  # index of the label line
    end: int    # index of the backward branch
    children: list["Loop"]

    def contains(self, other: "Loop") -> bool:
        return self.start <= other.start and other.end <= self.end and self is not other


def cold_paths(lines: list[Line]) -> set[int]:
    """Out-of-line blocks that jump back with an unconditional branch (e.g. sqrtf's errno path for a
    negative argument, which Adam's v >= 0 never takes, or an empty-loop entry): from their label
    to the branch back. Not costed: the kernels run with non-empty loops and valid inputs."""
    where = {ln.label: i for i, ln in enumerate(lines) if ln.label}
    cold: set[int] = set()
    for i, ln in enumerate(lines):
        t = ln.target()
        if t in where and where[t] < i and ln.unconditional:
            start = max(k for k in range(i) if lines[k].label)
            cold.update(range(start, i + 1))
    return cold


def _returns(ln: Line) -> bool:
    t = ln.text
    return t == "bx lr" or (t.startswith(("pop", "ldm")) and "pc" in t) or t.startswith("ldr pc")


def early_exits(lines: list[Line], loops: list[Loop]) -> set[int]:
    """Everything after the first return that follows the last loop: the empty-loop exits
    (``if (n <= 0) return``) that a kernel called with real loop bounds never takes."""
    last = max((lp.end for lp in loops), default=-1)
    ret = next((i for i in range(last + 1, len(lines)) if _returns(lines[i])), None)
    return set(range(ret + 1, len(lines))) if ret is not None else set()


def find_loops(lines: list[Line]) -> list[Loop]:
    """Loops in order of appearance (outer before inner): a conditional branch back to an earlier
    label (GCC -O2 closes every counted loop with one; an unconditional one is a cold path)."""
    where = {ln.label: i for i, ln in enumerate(lines) if ln.label}
    loops = [Loop(where[t], i, []) for i, ln in enumerate(lines)
             if (t := ln.target()) in where and where[t] < i and not ln.unconditional]
    loops.sort(key=lambda lp: (lp.start, -lp.end))
    for lp in loops:
        inner = [o for o in loops if lp.contains(o)]
        lp.children = [o for o in inner if not any(m.contains(o) for m in inner)]
    return loops


def own_instructions(lines: list[Line], loop: Loop) -> list[int]:
    """Instruction indices of ``loop`` that are not inside a nested loop."""
    nested = {i for c in loop.children for i in range(c.start, c.end + 1)}
    return [i for i in range(loop.start, loop.end + 1) if lines[i].text and i not in nested]


def conditional_blocks(lines: list[Line], loop: Loop) -> list[list[int]]:
    """Forward branches inside the loop body that skip a block (e.g. 'if spiked'): the skipped indices."""
    where = {ln.label: i for i, ln in enumerate(lines) if ln.label}
    nested = {k for c in loop.children for k in range(c.start, c.end + 1)}
    blocks = []
    for i in own_instructions(lines, loop):
        t = lines[i].target()
        if t in where and i < where[t] <= loop.end and not lines[i].unconditional:
            block = [k for k in range(i + 1, where[t]) if lines[k].text]
            if not nested.intersection(block):  # a guard that skips an empty inner loop is no event
                blocks.append(block)
    return blocks


# ---------------------------------------------------------------------------------------------------------
# tools

def tool_version(cmd: str) -> str:
    out = subprocess.run([cmd, "--version"], capture_output=True, text=True, check=True).stdout
    first = next(ln for ln in out.splitlines() if "version" in ln.lower() or "gcc" in ln.lower())
    return first.strip()


def mca_cycles(instructions: list[str], iterations: int) -> float:
    """llvm-mca total cycles for ``iterations`` runs of the block / iterations."""
    if not instructions:
        return 0.0
    body = "".join(f"\t{_mca_safe(t)}\n" for t in instructions)
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write(".syntax unified\n.thumb\n" + body + "mca_target:\n")
    res = subprocess.run([MCA, *MCA_FLAGS, f"-iterations={iterations}", f.name],
                         capture_output=True, text=True)
    Path(f.name).unlink()
    if res.returncode:
        raise RuntimeError(f"llvm-mca failed on:\n{body}\n{res.stderr}")
    total = int(re.search(r"Total Cycles:\s+(\d+)", res.stdout).group(1))
    return total / iterations


def _mca_safe(text: str) -> str:
    """Branch/literal-pool targets point at labels outside the snippet: aim them at a local one."""
    parts = text.split()
    if parts[0] == "bl":  # llvm-mca assumes 100 cycles for a call: issue it as one 1-cycle slot
        return "nop"     # (the refill and the callee's own cycles are added from the arch table)
    if _BRANCH.match(parts[0]):
        return " ".join(parts[:-1] + ["mca_target"])
    return re.sub(r"\.L\d+(\+\d+)?", "mca_target", text)


def steady_cycles(instructions: list[str]) -> float:
    """Cycles per iteration once the pipeline is full: the slope between two run lengths, so the
    one-off fill and drain of the first and last iteration cancel."""
    n = MCA_ITERATIONS
    return round((mca_cycles(instructions, 2 * n) * 2 * n - mca_cycles(instructions, n) * n) / n, 3)


def calls_in(lines: list[Line], idx: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in idx:
        callee = lines[i].callee()
        if callee:
            name = CALLS.get(callee)
            if name is None:
                raise ValueError(f"unexpected call to {callee}: add its cost to CALLS")
            out[name] = out.get(name, 0) + 1
    return out


def analyse(spec: KernelSpec, asm: str) -> dict:
    lines = function_lines(asm, spec.function)
    loops = find_loops(lines)
    if len(loops) != len(spec.loops):
        raise ValueError(f"{spec.function}: expected loops {spec.loops}, the compiler produced {len(loops)};"
                         " update KERNELS after a kernel edit")
    loop_out = {}
    in_loop: set[int] = set()
    names = {id(lp): name for name, lp in zip(spec.loops, loops)}
    for name, lp in zip(spec.loops, loops):
        own = own_instructions(lines, lp)
        parent = next((names[id(o)] for o in loops if lp in o.children), None)
        in_loop.update(range(lp.start, lp.end + 1))
        blocks = conditional_blocks(lines, lp)
        skipped = {i for b in blocks for i in b}
        common = [lines[i].text for i in own if i not in skipped]
        full = steady_cycles([lines[i].text for i in own])
        n_calls = sum(calls_in(lines, own).values())
        # refills: back edge, each taken skip, each call (bl) and its return
        base = steady_cycles(common) + BRANCH_REFILL_CYCLES * (1 + len(blocks) + 2 * n_calls)
        entry = {"instructions": len(own), "cycles_per_iteration": round(base, 3),
                 "calls_per_iteration": calls_in(lines, own), "parent": parent}
        if blocks:
            entry["conditional_extra_cycles"] = round(full - (base - BRANCH_REFILL_CYCLES), 3)
        loop_out[name] = entry
    cold = cold_paths(lines) | early_exits(lines, loops)
    outside_idx = [i for i, ln in enumerate(lines) if ln.text and i not in in_loop and i not in cold]
    outside = [lines[i].text for i in outside_idx]
    outside_calls = sum(calls_in(lines, outside_idx).values())
    return {"file": "", "function": spec.function, "doc": spec.doc, "loops": loop_out,
            "table_loop": spec.table_loop,
            "call_overhead_cycles": round(mca_cycles(outside, 1) + BRANCH_REFILL_CYCLES * (1 + 2 * outside_calls), 3),
            "calls_per_call": calls_in(lines, outside_idx),
            "cold_path_instructions": sum(1 for i in cold if lines[i].text)}


def section_sizes(obj: Path) -> dict[str, int]:
    out = subprocess.run([SIZE, "-A", str(obj)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for ln in out.splitlines():
        parts = ln.split()
        if len(parts) >= 2 and parts[0].startswith(".text.") and parts[1].isdigit():
            sizes[parts[0][len(".text."):]] = int(parts[1])
    return sizes


def stack_usage(su: Path) -> dict[str, int]:
    out = {}
    for ln in su.read_text().splitlines():
        where, nbytes, _kind = ln.split("\t")
        out[where.rsplit(":", 1)[-1]] = int(nbytes)
    return out


NM, OBJCOPY, OBJDUMP = "arm-none-eabi-nm", "arm-none-eabi-objcopy", "arm-none-eabi-objdump"
ACCEL_STUB = "float s2_exp_accel(float x) { return x; }\n"  # stands in for the accelerator's driver call


def link_image(objects: list[Path], tmp: Path) -> dict:
    """Link an algorithm's kernels with newlib's libm (nano, no startup files, unused sections
    dropped): the bytes its compiled kernels and the maths they call occupy in a PE's code region."""
    stub_c, stub_o, elf = tmp / "accel_stub.c", tmp / "accel_stub.o", tmp / "image.elf"
    stub_c.write_text(ACCEL_STUB)
    subprocess.run([GCC, *CFLAGS, "-c", str(stub_c), "-o", str(stub_o)], check=True)
    syms = subprocess.run([NM, "--defined-only", *map(str, objects)], capture_output=True, text=True,
                          check=True).stdout
    kernels = sorted({ln.split()[-1] for ln in syms.splitlines() if " T " in ln})
    keep = [f"-Wl,--undefined={k}" for k in kernels]
    subprocess.run([GCC, *CFLAGS, "-nostartfiles", "-specs=nano.specs", "-specs=nosys.specs",
                    "-Wl,--gc-sections", f"-Wl,-e,{kernels[0]}", *keep, *map(str, objects), str(stub_o),
                    "-lm", "-o", str(elf)], check=True, capture_output=True)
    sizes = subprocess.run([SIZE, "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sec = {p[0]: int(p[1]) for p in (ln.split() for ln in sizes.splitlines()) if len(p) >= 2 and p[1].isdigit()}
    table = subprocess.run([NM, "-S", "--defined-only", str(elf)], capture_output=True, text=True, check=True).stdout
    library = {}
    for ln in table.splitlines():
        parts = ln.split()
        if len(parts) == 4 and parts[2] in "Tt" and parts[3] not in kernels and parts[3] != "s2_exp_accel":
            library[parts[3]] = int(parts[1], 16)
    subprocess.run([OBJCOPY, "-O", "binary", str(elf), str(tmp / "image.bin")], check=True)
    image = {k: sec.get(f".{k}", 0) for k in ("text", "rodata", "data", "bss")}
    return {"text_bytes": image["text"], "rodata_bytes": image["rodata"], "data_bytes": image["data"],
            "bss_bytes": image["bss"], "code_bytes": image["text"] + image["rodata"] + image["data"],
            "library_functions_bytes": dict(sorted(library.items())),
            "how": "arm-none-eabi-gcc -nostartfiles -specs=nano.specs -specs=nosys.specs "
                   "-Wl,--gc-sections kernels + accel stub -lm; arm-none-eabi-size -A"}


def trace_kernel(spec: KernelSpec, emu: "kt.Emulator", bound: int) -> tuple[dict, float]:
    """One emulator call with table-loop bound ``bound``: per setting, the cycles of each loop's own
    instructions, its iterations and the cycles outside loops; and the numerics error against numpy."""
    import numpy as np
    import kernel_cases as kc

    case = kc.CASES[spec.function](bound, np.random.default_rng(TRACE_SEED))
    run = emu.call(spec.function, case.args, CALLS)
    err = kc.max_error(case, run.arrays, run.r0, run.s0)
    loops = kt.function_loops(emu, spec.function)
    if len(loops) != len(spec.loops):
        raise ValueError(f"{spec.function}: {len(loops)} loops in the linked image, expected {spec.loops}")
    out = {}
    for setting in kt.SETTINGS:
        own, iters, outside = kt.loop_cycles(run.trace, kt.rule_cycles(run.trace, setting), loops)
        out[setting] = (own, iters, outside)
    return out, err


def add_bracket(spec: KernelSpec, entry: dict, emu: "kt.Emulator") -> None:
    """Low and high cycles per iteration of every loop (slope between two bounds of the table
    loop; a loop whose count does not change is averaged) and per call outside the loops."""
    small, err_small = trace_kernel(spec, emu, TRACE_BOUNDS[0])
    large, err_large = trace_kernel(spec, emu, TRACE_BOUNDS[1])
    err = max(err_small, err_large)
    if err > NUMERICS_TOLERANCE:
        raise ValueError(f"{spec.function}: emulator outputs differ from numpy by {err:.2e} "
                         f"(> {NUMERICS_TOLERANCE:g}): the C kernel and its reference disagree")
    for setting in kt.SETTINGS:
        (own1, it1, _), (own2, it2, outside) = small[setting], large[setting]
        for k, name in enumerate(spec.loops):
            per = (own2[k] - own1[k]) / (it2[k] - it1[k]) if it2[k] != it1[k] else own2[k] / max(it2[k], 1)
            entry["loops"][name][f"cycles_per_iteration_{setting}"] = round(per, 3)
        entry[f"call_overhead_cycles_{setting}"] = round(outside, 3)
    entry["emulator_max_error"] = float(f"{err:.3g}")


def calibrate() -> dict[str, dict]:
    """Compile and analyse every kernel; one calibration document per algorithm."""
    import unicorn
    versions = {"compiler": tool_version(GCC), "llvm_mca": tool_version(MCA), "size": tool_version(SIZE),
                "unicorn": f"unicorn {unicorn.__version__} (Cortex-M4, Thumb-2, FPU)"}
    docs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for algo in sorted({k.algo for k in KERNELS}):
            kdir = REPO / "firmware_models" / algo / "kernels"
            kernels, code_bytes, stack_bytes, objects = {}, {}, {}, []
            for src in sorted(kdir.glob("*.c")):
                obj, asm_path = Path(tmp) / (src.stem + ".o"), Path(tmp) / (src.stem + ".s")
                subprocess.run([GCC, *CFLAGS, *EXTRA_FLAGS, "-c", str(src), "-o", str(obj)], check=True, cwd=tmp)
                subprocess.run([GCC, *CFLAGS, "-S", str(src), "-o", str(asm_path)], check=True)
                objects.append(obj)
                asm, sizes, stacks = asm_path.read_text(), section_sizes(obj), stack_usage(obj.with_suffix(".su"))
                for spec in (k for k in KERNELS if k.algo == algo):
                    if f"\n{spec.function}:" not in asm:
                        continue
                    entry = analyse(spec, asm)
                    entry["file"] = str(src.relative_to(REPO))
                    entry["code_bytes"], entry["stack_bytes"] = sizes[spec.function], stacks[spec.function]
                    kernels[spec.name] = entry
                    # by function: a kernel's outer-loop entry (``*_row``) is the same code
                    code_bytes[spec.function], stack_bytes[spec.function] = entry["code_bytes"], entry["stack_bytes"]
            missing = [k.name for k in KERNELS if k.algo == algo and k.name not in kernels]
            if missing:
                raise ValueError(f"kernels not found in firmware_models/{algo}/kernels/*.c: {missing}")
            image = link_image(objects, Path(tmp))
            emu = kt.Emulator(Path(tmp) / "image.elf", Path(tmp) / "image.bin")
            for spec in (k for k in KERNELS if k.algo == algo):
                add_bracket(spec, kernels[spec.name], emu)
            docs[algo] = {
                "tools": versions, "cflags": " ".join(CFLAGS), "mca_flags": " ".join(MCA_FLAGS),
                "branch_refill_cycles": BRANCH_REFILL_CYCLES,
                "kernels": kernels,
                "code_bytes_total": sum(code_bytes.values()),
                "stack_bytes_max": max(stack_bytes.values()),
                "image": image,
                "timing_rules": {"source": kt.TRM, "settings": kt.SETTINGS,
                                 "trace_bounds": list(TRACE_BOUNDS), "emulator": versions["unicorn"]},
            }
    return docs


# ---------------------------------------------------------------------------------------------------------
# outputs: JSON per algorithm, the YAML kernels block

def json_path(algo: str) -> Path:
    return REPO / "firmware_models" / algo / "kernels" / "calibration.json"


def load_calibration() -> dict[str, dict]:
    """The committed calibration documents, by algorithm."""
    algos = sorted({k.algo for k in KERNELS})
    return {a: json.loads(json_path(a).read_text()) for a in algos}


SETTINGS = ("nominal", "low", "high")  # the YAML block of each: kernels, kernels_low, kernels_high


def block_name(setting: str) -> str:
    return "kernels" if setting == "nominal" else f"kernels_{setting}"


def table_value(entry: dict, setting: str = "nominal") -> float:
    """The arch table's per-iteration figure: the table loop's common-path cycles (nominal:
    llvm-mca; low/high: the Cortex-M4 timing rules on the emulator's trace)."""
    suffix = "" if setting == "nominal" else f"_{setting}"
    return entry["loops"][entry["table_loop"]][f"cycles_per_iteration{suffix}"]


def kernels_block(docs: dict[str, dict], setting: str = "nominal") -> str:
    """One generated YAML block (text, so the rest of the file keeps its order and comments)."""
    lines = [f"{block_name(setting)}:",
             "  # generated by tools/calibrate_kernels.py from firmware_models/*/kernels/calibration.json;",
             "  # do not edit by hand: edit the C kernel and rerun the tool"]
    if setting != "nominal":
        lines.append(f"  # arch.cycle_model={setting}: the {setting} end of the cycle bracket (docs/fidelity.md)")
    for spec in KERNELS:
        doc = docs[spec.algo]
        e = doc["kernels"][spec.name]
        t = doc["tools"]
        if setting == "nominal":
            src = (f"derived: {e['file']}:{e['function']} ({spec.table_loop} loop), {t['compiler']} "
                   f"{doc['cflags']}; {t['llvm_mca'].replace('Debian ', '')} {doc['mca_flags']}, "
                   f"+{doc['branch_refill_cycles']} taken-branch refill [D]")
            note = spec.doc + "; static pipeline model, not measured on silicon"
        else:
            src = (f"derived: {e['file']}:{e['function']} ({spec.table_loop} loop) traced on {t['unicorn']}, "
                   f"{setting} timing rules of {doc['timing_rules']['source']} (tools/kernel_trace.py) [D]")
            note = spec.doc + f"; {setting} end of the timing-rule bracket, not measured on silicon"
        lines += [f"  {spec.name}:",
                  f"    value: {table_value(e, setting):g}",
                  f"    source: {json.dumps(src)}",
                  "    confidence: derived",
                  f"    note: {json.dumps(note)}"]
    return "\n".join(lines) + "\n"


def _block_re(name: str) -> re.Pattern:
    return re.compile(rf"^{name}:\n(?:(?:[ \t].*|)\n)*?(?=^\S)", re.M)


def current_block(text: str, setting: str = "nominal") -> str:
    m = _block_re(block_name(setting)).search(text)
    if not m:
        raise ValueError(f"{ARCH_YAML}: no top-level '{block_name(setting)}:' block")
    return m.group(0).rstrip("\n") + "\n"


def rewrite_yaml(blocks: dict[str, str]) -> None:
    """Replace each generated block in place; a missing one goes right after the block before it."""
    text = ARCH_YAML.read_text()
    for k, setting in enumerate(SETTINGS):
        m = _block_re(block_name(setting)).search(text)
        if m is None and k > 0:
            prev = _block_re(block_name(SETTINGS[k - 1])).search(text)
            text = text[:prev.end()] + blocks[setting] + "\n" + text[prev.end():]
        elif m is None:
            raise ValueError(f"{ARCH_YAML}: no top-level 'kernels:' block")
        else:
            text = text[:m.start()] + blocks[setting] + "\n" + text[m.end():]
    ARCH_YAML.write_text(text)


def all_blocks(docs: dict[str, dict]) -> dict[str, str]:
    return {setting: kernels_block(docs, setting) for setting in SETTINGS}


def toolchain_present() -> bool:
    return all(shutil.which(t) for t in (GCC, MCA, SIZE, NM, OBJCOPY, OBJDUMP)) and emulator_present()


def emulator_present() -> bool:
    try:
        import unicorn  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="verify the YAML kernels block matches the committed calibration JSON")
    args = ap.parse_args(argv)
    if args.check:
        docs, text = load_calibration(), ARCH_YAML.read_text()
        for setting in SETTINGS:
            if kernels_block(docs, setting) != current_block(text, setting):
                print(f"{ARCH_YAML.relative_to(REPO)}: {block_name(setting)} block differs from "
                      "calibration.json; rerun python tools/calibrate_kernels.py", file=sys.stderr)
                return 1
        print("kernels, kernels_low and kernels_high blocks match calibration.json")
        return 0
    if not toolchain_present():
        print(f"calibrate_kernels: needs {GCC}, {MCA}, {SIZE}, {NM}, {OBJDUMP} on PATH "
              "(Debian: apt-get install gcc-arm-none-eabi llvm) and the unicorn package "
              "(pip install unicorn)", file=sys.stderr)
        return 2
    docs = calibrate()
    for algo, doc in docs.items():
        json_path(algo).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    rewrite_yaml(all_blocks(docs))
    print(f"{'kernel':32s} {'nominal':>7s} {'low':>6s} {'high':>6s} per       emulator err")
    for spec in KERNELS:
        e = docs[spec.algo]["kernels"][spec.name]
        print(f"{spec.name:32s} {table_value(e):7.2f} {table_value(e, 'low'):6.2f} {table_value(e, 'high'):6.2f} "
              f"{spec.table_loop:8s}  {e['emulator_max_error']:.1e}")
    for algo, doc in docs.items():
        im = doc["image"]
        print(f"{algo}: linked kernels + libm {im['code_bytes']} B code "
              f"({', '.join(im['library_functions_bytes'])}), deepest kernel frame {doc['stack_bytes_max']} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
