"""The kernel cycle table in the arch YAML is what the compiled C kernels cost, and CI notices a
kernel edit that was not recalibrated."""
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import calibrate_kernels as ck  # noqa: E402

from s2sim.config import load_arch  # noqa: E402
from s2sim.hw.params import HwParams  # noqa: E402


def test_yaml_kernels_block_is_the_committed_calibration():
    want = ck.kernels_block(ck.load_calibration())
    assert ck.current_block(ck.ARCH_YAML.read_text()) == want
    assert ck.main(["--check"]) == 0


def test_a_changed_calibration_no_longer_matches_the_yaml():
    docs = ck.load_calibration()
    docs["eprop"]["kernels"]["dense_mac"]["loops"]["pre"]["cycles_per_iteration"] += 1
    assert ck.kernels_block(docs) != ck.current_block(ck.ARCH_YAML.read_text())


def test_every_kernel_the_firmware_charges_is_calibrated():
    arch = load_arch("spinnaker2")
    for spec in ck.KERNELS:
        leaf = getattr(arch.kernels, spec.name)
        assert leaf.confidence == "derived" and spec.function in leaf.source
        assert leaf.value == ck.table_value(ck.load_calibration()[spec.algo]["kernels"][spec.name])
    used = set()
    # the firmware, and the cost tables the runtime declares once for several firmwares (Adam)
    for fw in [*(REPO / "firmware_models").glob("*/firmware.py"), REPO / "s2sim" / "runtime" / "optimiser_costs.py"]:
        text = fw.read_text()
        used |= {k.name for k in ck.KERNELS if f'"{k.name}"' in text}
    assert {"dense_mac", "eprop_eligibility_paper", "event_add", "eventprop_forward_step",
            "lif_neuron_update", "adam_update"} <= used


def test_compiled_code_and_stack_fit_the_pe_reservations():
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    for algo, doc in ck.load_calibration().items():
        image = doc["image"]
        assert 0 < image["code_bytes"] <= hw.code_reserve_bytes, algo
        functions = {k["function"]: k["code_bytes"] for k in doc["kernels"].values()}  # *_row: the same code
        assert image["code_bytes"] >= sum(functions.values()) == doc["code_bytes_total"]
        assert doc["stack_bytes_max"] <= hw.stack_reserve_bytes, algo


LOOP_ASM = """\
\t.type\tk, %function
k:
\tcmp\tr0, #0
\tble\t.L9
.L3:
\tvldr.32\ts15, [r2]
\tvcmpe.f32\ts15, s1
\tvmrs\tAPSR_nzcv, FPSCR
\tble\t.L8
\tvsub.f32\ts15, s15, s1
\tadds\tr0, r0, #1
.L8:
\tvstmia.32\tr2!, {s15}
\tcmp\tr2, r1
\tbne\t.L3
\tbx\tlr
.L9:
\tmovs\tr0, #0
\tbx\tlr
\t.size\tk, .-k
"""


def test_a_loop_is_found_with_its_spike_branch_and_the_empty_loop_exit_is_not_costed():
    lines = ck.function_lines(LOOP_ASM, "k")
    loops = ck.find_loops(lines)
    assert len(loops) == 1
    body = [lines[i].text for i in ck.own_instructions(lines, loops[0])]
    assert body[0].startswith("vldr") and body[-1] == "bne .L3"
    (block,) = ck.conditional_blocks(lines, loops[0])
    assert [lines[i].mnemonic for i in block] == ["vsub.f32", "adds"]
    exits = ck.early_exits(lines, loops)
    assert [lines[i].text for i in sorted(exits) if lines[i].text] == ["movs r0, #0", "bx lr"]


@pytest.mark.skipif(not ck.toolchain_present(),
                    reason="needs arm-none-eabi-gcc, llvm-mca and the unicorn package (README: optional)")
def test_recalibrating_reproduces_the_committed_json():
    fresh = ck.calibrate()
    for algo, doc in fresh.items():
        committed = json.loads(ck.json_path(algo).read_text())
        assert json.loads(json.dumps(doc, sort_keys=True)) == committed, \
            f"{algo}: kernels changed since calibration.json; rerun python tools/calibrate_kernels.py"


# ---- the cycle bracket: Cortex-M4 timing rules on traced kernels ---------------------------------------
import kernel_trace as kt  # noqa: E402


def _insns(*texts: str) -> list:
    """A straight-line executed stream (2-byte instructions at consecutive addresses)."""
    out = []
    for k, text in enumerate(texts):
        mnemonic, _, operands = text.partition(" ")
        out.append(kt.Insn(0x100 + 2 * k, 2, mnemonic, operands))
    return out


def test_timing_rules_cost_loads_fma_stores_and_stalls_as_the_trm_says():
    trace = _insns("vldr s14, [r3]",        # first load: 2
                   "vldr s15, [r2]",        # pipelined behind a load: low 1, high 2
                   "vfma.f32 s15, s14, s0",  # FP multiply-accumulate: 3, high +1 (reads s15 just loaded)
                   "adds r3, #4",           # 1
                   "vstr s15, [r3]",        # store: low 1, high 2; address register just written: +1
                   "vldmia r1!, {s1, s2}")  # 1 + N
    assert kt.rule_cycles(trace, "low") == [2, 1, 3, 1, 2, 3]
    assert kt.rule_cycles(trace, "high") == [2, 2, 4, 1, 3, 3]


def test_a_taken_branch_refills_the_pipeline_and_a_fall_through_does_not():
    taken = _insns("cmp r0, r1", "bne 0x100")
    taken.append(kt.Insn(0x100, 2, "cmp", "r0, r1"))  # executed next: the branch went back
    fall = _insns("cmp r0, r1", "bne 0x100", "bx lr")
    assert kt.rule_cycles(taken, "low")[1] == 2 and kt.rule_cycles(taken, "high")[1] == 4
    assert kt.rule_cycles(fall, "low")[1] == 1 and kt.rule_cycles(fall, "high")[1] == 1


def test_every_kernel_has_a_bracket_around_the_nominal_figure_and_ran_correctly():
    for algo, doc in ck.load_calibration().items():
        assert doc["timing_rules"]["settings"] == kt.SETTINGS, algo
        for name, entry in doc["kernels"].items():
            nominal, low, high = (ck.table_value(entry, s) for s in ck.SETTINGS)
            assert nominal <= low <= high, name
            assert entry["emulator_max_error"] <= ck.NUMERICS_TOLERANCE, name


def test_the_yaml_holds_every_end_of_the_bracket_and_cycle_model_picks_one():
    text = ck.ARCH_YAML.read_text()
    docs = ck.load_calibration()
    for setting in ck.SETTINGS:
        assert ck.current_block(text, setting) == ck.kernels_block(docs, setting)
    arch = load_arch("spinnaker2")
    assert arch.cycle_model == "nominal"
    high = HwParams.from_arch(arch.model_copy(update={"cycle_model": "high"}))
    want = ck.table_value(docs["eprop"]["kernels"]["eprop_eligibility_paper"], "high")
    assert high.kernel_cycles["eprop_eligibility_paper"] == want
    assert high.kernel_cycles_bracket["eprop_eligibility_paper"][2] == want


@pytest.mark.skipif(not ck.toolchain_present(),
                    reason="needs arm-none-eabi-gcc, llvm-mca and the unicorn package (pip install .[calibrate])")
def test_the_emulator_catches_a_kernel_that_disagrees_with_numpy(tmp_path, monkeypatch):
    import kernel_cases as kc
    import subprocess
    spec = next(k for k in ck.KERNELS if k.name == "eprop_eps_v")
    src = ck.REPO / "firmware_models" / "eprop" / "kernels" / "eprop_kernels.c"
    obj = tmp_path / "k.o"
    subprocess.run([ck.GCC, *ck.CFLAGS, "-c", str(src), "-o", str(obj)], check=True)
    ck.link_image([obj], tmp_path)
    emu = kt.Emulator(tmp_path / "image.elf", tmp_path / "image.bin")
    _, err = ck.trace_kernel(spec, emu, 8)
    assert err <= ck.NUMERICS_TOLERANCE
    right = kc.CASES["eprop_eps_v"]

    def off_by_alpha(n, rng):  # a reference with the wrong decay: the check must see it
        case = right(n, rng)
        case.expect[1] = case.expect[1] * 1.01
        return case
    monkeypatch.setitem(kc.CASES, "eprop_eps_v", off_by_alpha)
    _, err = ck.trace_kernel(spec, emu, 8)
    assert err > 1e-3
