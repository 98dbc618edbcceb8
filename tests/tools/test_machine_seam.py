"""Apps, hosts, the profiler, tools and benchmarks see the hardware only through ``Simulation.machine``
(``s2sim.machine.Machine``), and firmware only through ``s2sim.runtime``: so a board of several chips, or a
compiled kernel, can stand behind the same interface without anything downstream changing."""
import ast
import re
from pathlib import Path

from s2sim.hw.params import HwParams
from s2sim.machine import Machine
from s2sim.sim import Simulation

ROOT = Path(__file__).resolve().parents[2]
#: Where the one-chip model's internals may be used: the hardware itself, the firmware facade over it,
#: the host object that builds it, and the counted kernel (a kernel of that model: it reads and
#: commits the chip's timing state).
INSIDE = ("s2sim/hw/", "s2sim/runtime/", "s2sim/sim.py", "s2sim/counted/")
REACHING_IN = re.compile(r"\bsim\.chip\b|\.c\[\"|\bchip\.(noc|dram|dmas|deliveries)\b")


def outside_files() -> list[Path]:
    files = [p for folder in ("s2sim", "firmware_models", "tools", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    return [p for p in files if not str(p.relative_to(ROOT)).startswith(INSIDE)]


def test_nothing_outside_the_hardware_reaches_into_the_chip():
    offenders = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
                 for p in outside_files() for i, line in enumerate(p.read_text().splitlines(), 1)
                 if REACHING_IN.search(line)]
    assert offenders == []


def test_the_pattern_catches_the_ways_code_used_to_reach_in():
    for line in ('stats = sim.chip.stats', 'n = pe.c["timer_overruns"]', 'chip.noc.add_multicast(1, 2, 3, [4])',
                 'x = self.sim.chip.pes[0].sram', 'chip.deliveries'):
        assert REACHING_IN.search(line), line
    assert not REACHING_IN.search("sim.machine.routing.add_multicast(1, 2, 3, [4])")


def test_firmware_imports_only_the_runtime_of_s2sim():
    offenders = []
    for path in sorted((ROOT / "firmware_models").glob("*/firmware.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "s2sim"
                          and not (n == "s2sim.runtime" or n.startswith("s2sim.runtime."))]
    assert offenders == []


def test_a_simulation_offers_its_hardware_as_a_machine():
    sim = Simulation(HwParams.from_arch("spinnaker2"))
    machine = sim.machine
    assert isinstance(machine, Machine)
    assert len(machine.pes) == machine.counters.n_pes == machine.stats.n_pes == sim.hw.n_pes
    machine.routing.add_multicast(0x100, 0xFFFFFF00, 0, [1])
    assert machine.used_pes() == []
