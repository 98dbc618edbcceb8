"""Run the compiled kernels on a Cortex-M4 emulator and cost the executed instructions with ARM's
published timing rules: the low and high ends of the cycle bracket (llvm-mca is the nominal column).

Why: llvm-mca's Cortex-M4 model issues every instruction in one cycle; the Cortex-M4 Technical
Reference Manual (ARM DDI 0439B, Table 3-1 "Cortex-M4 instruction set summary" and Table 7-1 "FPU
instruction set", with the pipelining notes of section 3.3.2) gives longer counts for FP
multiply-accumulate, FP loads and load/store multiple, and a pipeline refill on every taken branch.
The executed stream comes from Unicorn (Thumb-2, M-class, Cortex-M4 model, FPU on), so every loop
runs with the real bounds and data-dependent paths of a call; the same run checks the kernel's
outputs against a numpy reference (``kernel_cases.py``).

The in-order model (``rule_cycles``), per executed instruction:

=====================  =====================================  ======================================
instruction            low                                    high
=====================  =====================================  ======================================
ALU, MUL, VADD/VMUL    1                                      1
MLA/MLS                2                                      2
SDIV/UDIV              2                                      12
LDR single, VLDR       1 after a load (address/data phases    2
                       pipelined), else 2
STR single, VSTR       1 (write buffer)                       2
LDRD/STRD              3                                      3
LDM/STM/PUSH/POP,      1 + N                                  1 + N
VLDM/VSTM/VPUSH/VPOP
VMLA/VMLS/VFMA/VFMS    3                                      3
VDIV/VSQRT             14                                     14
IT                     0 (folded)                             1
taken branch, BL, BX   1 + P, P = 1                           1 + P, P = 3
load/store whose       +1                                     +1
address register the
previous instruction
wrote
FP instruction reading -                                      +1 (FPU result wait)
the previous FP
instruction's result,
VMRS after VCMP
=====================  =====================================  ======================================

A ``bl`` to ``expf``/``logf``/the exp accelerator is charged its own 1 + P and the return's P;
the callee's cycles are outside the kernel (the arch table costs them), as in the nominal column.
"""
from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

OBJDUMP, NM = "arm-none-eabi-objdump", "arm-none-eabi-nm"
TRM = "ARM DDI 0439B Cortex-M4 TRM Table 3-1, Table 7-1, section 3.3.2"
SETTINGS = {  # name -> (branch refill P, load pipelining, store cycles, sdiv, IT cycles, FPU waits)
    "low": dict(p=1, pipelined_loads=True, store=1, sdiv=2, it=0, fpu_wait=False),
    "high": dict(p=3, pipelined_loads=False, store=2, sdiv=12, it=1, fpu_wait=True),
}
CODE_BASE, DATA_BASE, STACK_TOP, RETURN_ADDR = 0x0, 0x20000000, 0x200F0000, 0xFFF0
_BRANCH = re.compile(r"^(b|b(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)|cbz|cbnz)(\.n|\.w)?$")
_ACCUMULATE = re.compile(r"^(v(n?fm[as]|n?ml[as])|mla|mls)$")
_REG = re.compile(r"\b(r\d+|sl|fp|ip|lr|sp|s\d+|d\d+)\b")


@dataclass(frozen=True)
class Insn:
    address: int
    size: int
    mnemonic: str
    operands: str

    @property
    def base(self) -> str:
        return self.mnemonic.split(".")[0]

    def is_load_single(self) -> bool:
        return bool(re.match(r"^(ldr(b|h|sb|sh)?|vldr)$", self.base))

    def is_store_single(self) -> bool:
        return bool(re.match(r"^(str(b|h)?|vstr)$", self.base))

    def is_multiple(self) -> bool:
        return bool(re.match(r"^(ldm\w*|stm\w*|push|pop|vldm\w*|vstm\w*|vpush|vpop)$", self.base))

    def is_fp(self) -> bool:
        return self.base.startswith("v") and not self.is_multiple()

    def address_registers(self) -> set[str]:
        """Registers that form a load/store address (inside the brackets, or the LDM/STM base)."""
        m = re.search(r"\[([^\]]*)\]", self.operands)
        if m:
            return set(_REG.findall(m.group(1)))
        if self.is_multiple() and self.base not in ("push", "pop", "vpush", "vpop"):
            return set(_REG.findall(self.operands.split(",")[0]))
        return set()

    def written(self) -> set[str]:
        """Registers this instruction writes (first operand, or a written-back base)."""
        ops = self.operands.split(",")
        out: set[str] = set()
        if "!" in self.operands or re.search(r"\],\s*#", self.operands):
            out |= self.address_registers()
        if self.is_store_single() or self.base in ("cmp", "cmn", "tst", "teq", "vcmp", "vcmpe", "it") \
                or self.base.startswith(("b", "stm", "vstm", "push", "vpush", "cbz", "cbnz")):
            return out
        if self.is_multiple():  # pop/ldm/vldm/vpop: the register list
            return out | set(_REG.findall(self.operands[self.operands.find("{"):]))
        return out | set(_REG.findall(ops[0]))

    def read(self) -> set[str]:
        """Registers read: all operands but a plain destination (a store, a multiply-accumulate and
        a compare read their first operand too)."""
        if self.is_store_single() or _ACCUMULATE.match(self.base) or self.base.startswith(("cmp", "vcmp", "tst")):
            return set(_REG.findall(self.operands))
        return set(_REG.findall(self.operands)) - set(_REG.findall(self.operands.split(",")[0]))

    def list_length(self) -> int:
        m = re.search(r"\{([^}]*)\}", self.operands)
        return len(m.group(1).split(",")) if m else 1


def disassemble(elf: Path) -> dict[int, Insn]:
    """address -> instruction of every function in the image (objdump of the linked ELF)."""
    out = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    raw = subprocess.run([OBJDUMP, "-d", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for ln in raw.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\t([0-9a-f ]+)\t", ln)
        if m:
            sizes[int(m.group(1), 16)] = len(m.group(2).replace(" ", "")) // 2
    insns = {}
    for ln in out.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\t(\S+)\s*([^@;]*)", ln)
        if m:
            addr = int(m.group(1), 16)
            insns[addr] = Insn(addr, sizes.get(addr, 2), m.group(2), m.group(3).strip())
    return insns


def symbols(elf: Path) -> dict[str, tuple[int, int]]:
    """Function name -> (start, end) address."""
    out = subprocess.run([NM, "-S", "--defined-only", str(elf)], capture_output=True, text=True, check=True).stdout
    syms = {}
    for ln in out.splitlines():
        p = ln.split()
        if len(p) == 4 and p[2] in "Tt":
            start = int(p[0], 16) & ~1
            syms[p[3]] = (start, start + int(p[1], 16))
    return syms


def rule_cycles(trace: list[Insn], setting: str) -> list[float]:
    """Cycles of each executed instruction under one setting (the table in the module docstring)."""
    s = SETTINGS[setting]
    p = s["p"]
    out: list[float] = []
    prev: Insn | None = None
    for k, ins in enumerate(trace):
        nxt = trace[k + 1] if k + 1 < len(trace) else None
        b = ins.base
        if ins.is_load_single():
            c = 1 if (s["pipelined_loads"] and prev is not None and prev.is_load_single()) else 2
        elif ins.is_store_single():
            c = s["store"]
        elif b in ("ldrd", "strd"):
            c = 3
        elif ins.is_multiple():
            c = 1 + ins.list_length() + (p if "pc" in ins.operands and b in ("pop", "ldm", "ldmia") else 0)
        elif _ACCUMULATE.match(b) and b.startswith("v"):
            c = 3
        elif b in ("vdiv", "vsqrt"):
            c = 14
        elif b in ("mla", "mls"):
            c = 2
        elif b in ("sdiv", "udiv"):
            c = s["sdiv"]
        elif b.startswith("it"):
            c = s["it"]
        elif b == "bl":
            c = 1 + p + p  # the call's refill, and the callee's return into the kernel
        elif b == "bx" or (b == "ldr" and ins.operands.startswith("pc")):
            c = 1 + p
        elif _BRANCH.match(ins.mnemonic):
            taken = nxt is not None and nxt.address != ins.address + ins.size
            c = 1 + p if taken else 1
        else:
            c = 1
        if prev is not None:
            if ins.address_registers() & prev.written():
                c += 1
            if s["fpu_wait"] and ins.is_fp() and prev.is_fp() and (
                    (ins.read() & prev.written()) or (b == "vmrs" and prev.base.startswith("vcmp"))):
                c += 1
        out.append(c)
        prev = ins
    return out


# ---------------------------------------------------------------------------------------------------------
# the emulator

@dataclass
class Arg:
    """One kernel argument: an int/pointer (core register or stack), a float (s register), or an
    array placed in data memory (``out``: read back after the call for the numerics check)."""
    kind: str  # "int", "float", "array"
    value: object
    out: bool = False
    address: int = 0


@dataclass
class Run:
    trace: list[Insn]
    arrays: list[np.ndarray]
    r0: int
    s0: float
    calls: dict[str, int] = field(default_factory=dict)


def _f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", float(x)))[0]


class Emulator:
    """A linked kernel image on Unicorn's Cortex-M4 (Thumb-2, FPU enabled)."""

    def __init__(self, elf: Path, binary: Path):
        self.insns = disassemble(elf)
        self.syms = symbols(elf)
        self.image = binary.read_bytes()
        self.load = min(self.insns)  # the binary starts at the first loaded section (.text)

    def call(self, function: str, args: list[Arg], calls_costed: dict[str, str]) -> Run:
        from unicorn import UC_ARCH_ARM, UC_HOOK_CODE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
        from unicorn import arm_const as a

        mu = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        mu.ctl_set_cpu_model(a.UC_CPU_ARM_CORTEX_M4)
        mu.mem_map(CODE_BASE, 0x100000)
        mu.mem_write(self.load, self.image)
        mu.mem_map(DATA_BASE, 0x100000)
        at = DATA_BASE
        core: list[int] = []
        floats: list[float] = []
        for arg in args:
            if arg.kind == "array":
                data = np.ascontiguousarray(arg.value).tobytes()
                arg.address = at
                mu.mem_write(at, data)
                core.append(at)
                at += (len(data) + 15) // 16 * 16 + 16  # 16-byte aligned, a gap between arrays
            elif arg.kind == "float":
                floats.append(float(arg.value))
            else:
                core.append(int(arg.value) & 0xFFFFFFFF)
        regs = (a.UC_ARM_REG_R0, a.UC_ARM_REG_R1, a.UC_ARM_REG_R2, a.UC_ARM_REG_R3)
        for reg, v in zip(regs, core[:4]):
            mu.reg_write(reg, v)
        stacked = core[4:]
        sp = STACK_TOP - 4 * len(stacked)
        mu.mem_write(sp, struct.pack(f"<{len(stacked)}I", *stacked) if stacked else b"")
        for i, x in enumerate(floats):
            mu.reg_write(getattr(a, f"UC_ARM_REG_S{i}"), _f32_bits(x))
        mu.reg_write(a.UC_ARM_REG_SP, sp)
        mu.reg_write(a.UC_ARM_REG_LR, RETURN_ADDR | 1)
        start, end = self.syms[function]
        callee_at = {self.syms[name][0]: name for name in calls_costed if name in self.syms}
        trace: list[Insn] = []
        calls: dict[str, int] = {}

        def hook(_uc, address, _size, _data):
            if start <= address < end:
                trace.append(self.insns[address])
            elif address in callee_at:
                calls[callee_at[address]] = calls.get(callee_at[address], 0) + 1

        mu.hook_add(UC_HOOK_CODE, hook)
        mu.emu_start(start | 1, RETURN_ADDR, count=5_000_000)
        arrays = [np.frombuffer(bytes(mu.mem_read(arg.address, np.asarray(arg.value).nbytes)),
                                dtype=np.asarray(arg.value).dtype).reshape(np.shape(arg.value))
                  for arg in args if arg.kind == "array"]
        s0 = struct.unpack("<f", struct.pack("<I", mu.reg_read(a.UC_ARM_REG_S0)))[0]
        return Run(trace, arrays, mu.reg_read(a.UC_ARM_REG_R0), s0, calls)


# ---------------------------------------------------------------------------------------------------------
# loops in the traced function, and per-iteration cycles

def function_loops(emu: Emulator, function: str) -> list[tuple[int, int]]:
    """(first, last) address of each loop, outer before inner: a conditional branch back to an
    earlier address closes one (the same rule as calibrate_kernels.find_loops on the assembly)."""
    start, end = emu.syms[function]
    loops = []
    for addr in sorted(a for a in emu.insns if start <= a < end):
        ins = emu.insns[addr]
        if _BRANCH.match(ins.mnemonic) and ins.base not in ("b",):
            target = int(ins.operands.split(",")[-1].split()[0], 16)
            if start <= target < addr:
                loops.append((target, addr))
    return sorted(loops, key=lambda lp: (lp[0], -lp[1]))


def loop_cycles(trace: list[Insn], cycles: list[float], loops: list[tuple[int, int]]) -> tuple[list[float], list[int], float]:
    """Cycles spent in each loop's own instructions (not a nested loop's), each loop's iteration
    count (executions of its closing branch), and the cycles outside every loop."""
    own = [0.0] * len(loops)
    iters = [0] * len(loops)
    outside = 0.0
    for ins, c in zip(trace, cycles):
        inner = None
        for k, (lo, hi) in enumerate(loops):
            if lo <= ins.address <= hi:
                inner = k  # later loops in the list are nested deeper
        if inner is None:
            outside += c
        else:
            own[inner] += c
            if ins.address == loops[inner][1]:
                iters[inner] += 1
    return own, iters, outside
