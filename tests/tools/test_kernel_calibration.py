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
    for fw in (REPO / "firmware_models").glob("*/firmware.py"):
        text = fw.read_text()
        used |= {k.name for k in ck.KERNELS if f'"{k.name}"' in text}
    assert {"dense_mac", "eprop_eligibility_paper", "event_add", "eventprop_forward_step",
            "lif_neuron_update", "adam_update"} <= used


def test_compiled_code_and_stack_fit_the_pe_reservations():
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    for algo, doc in ck.load_calibration().items():
        image = doc["image"]
        assert 0 < image["code_bytes"] <= hw.code_reserve_bytes, algo
        assert image["code_bytes"] >= sum(k["code_bytes"] for k in doc["kernels"].values())
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


@pytest.mark.skipif(not ck.toolchain_present(), reason="needs arm-none-eabi-gcc and llvm-mca (README: optional)")
def test_recalibrating_reproduces_the_committed_json():
    fresh = ck.calibrate()
    for algo, doc in fresh.items():
        committed = json.loads(ck.json_path(algo).read_text())
        assert json.loads(json.dumps(doc, sort_keys=True)) == committed, \
            f"{algo}: kernels changed since calibration.json; rerun python tools/calibrate_kernels.py"
