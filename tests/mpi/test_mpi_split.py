"""A board split over 2 MPI ranks on 127.0.0.1 gives what one process gives: the same timing digest
(every per-tick time, counter and energy: tools/timing_fingerprint.py), spikes and energy."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("mpi_digest.py")
pytest.importorskip("mpi4py", reason="MPI tests need mpi4py: pip install -e '.[mpi]'")
MPIRUN = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")
if MPIRUN is None:
    pytest.skip("MPI tests need an mpirun: pip install -e '.[mpi]' (MPICH's wheel)", allow_module_level=True)


def run(sets, ticks, ranks=1, exchange="tick", chips="contiguous"):
    cmd = [sys.executable, str(SCRIPT), str(REPO / "networks" / "lif_bench.yaml"), str(ticks), *sets]
    if ranks > 1:
        cmd = [MPIRUN, "-n", str(ranks), "-host", "127.0.0.1"] + cmd
    env = dict(os.environ, S2SIM_MPI_EXCHANGE=exchange, S2SIM_MPI_CHIPS=chips)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


# lif_bench over 4 chips of a 2 x 2 board, 3 PEs per chip: every layer pair talks over chip links
FOUR_CHIPS = ["arch.board.chips_x=2", "arch.board.chips_y=2", "mapping.pes_per_chip=3"]


@pytest.mark.parametrize("extra, exchange, chips", [
    ([], "tick", "contiguous"),
    (["firmware.params.timer_phase_spread=0.3", "run.simulator.kernel=exact"], "tick", "contiguous"),
    ([], "window", "contiguous"),
    ([], "tick", "interleaved"),
], ids=["aligned-timers", "spread-timers-exact-kernel", "window-exchange", "interleaved-chips"])
def test_two_ranks_reproduce_one_process(extra, exchange, chips):
    one = run(FOUR_CHIPS + extra, 25)
    two = run(FOUR_CHIPS + extra, 25, ranks=2, exchange=exchange, chips=chips)
    assert two["ranks"] == 2 and one["ranks"] == 1
    assert sum(one["spikes"][1:]) > 0 and one["link_crossings"] > 0
    assert two["windows"] > 0  # the ranks did synchronise
    # contiguous: each rank booked its own chips' part of the trees; interleaved: trees cross back
    assert two["booking"] == ("pieces" if chips == "contiguous" else "replicated")
    for key in ("digest", "raster_sha", "spikes", "energy_j", "link_crossings", "link_load_sha", "link_busy_until_ns"):
        assert two[key] == one[key], key


def test_aligned_lif_timers_exchange_once_per_tick():
    """LIF handlers do not send, so with every timer in one phase the ranks meet once per tick (and
    once more to drain), where exchanging every packet's flight time took ~20 rounds per tick."""
    two = run(FOUR_CHIPS, 25, ranks=2)
    assert 25 <= two["windows"] <= 25 + 2
    window = run(FOUR_CHIPS, 25, ranks=2, exchange="window")
    assert window["windows"] > 10 * 25 and window["digest"] == two["digest"]


def test_a_one_chip_machine_cannot_be_split(tmp_path):
    cmd = [MPIRUN, "-n", "2", sys.executable, "-m", "s2sim.cli", "run", str(REPO / "networks" / "lif_bench.yaml"),
           "--set", "run.ticks=2", "--out", str(tmp_path / "run"), "--quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 2
    assert "MPI ranks split a board's chips" in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.count("error:") == 1, "one line, from rank 0 (not once per rank)"
    assert not (tmp_path / "run" / "summary.json").exists()


def ping_pong(variant, ranks=1, exchange="tick"):
    cmd = [sys.executable, str(SCRIPT.with_name("mpi_ping_pong.py")), variant]
    if ranks > 1:
        cmd = [MPIRUN, "-n", str(ranks), "-host", "127.0.0.1"] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO,
                         env=dict(os.environ, S2SIM_MPI_EXCHANGE=exchange))
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_tree_back_to_a_lower_rank_makes_every_rank_book_every_burst():
    one, two = ping_pong("timer-back"), ping_pong("timer-back", ranks=2)
    assert two["booking"] == "replicated" and two["logs"] == one["logs"]
    assert [what for what, *_ in one["logs"]["2"]] == ["packet"]  # the pong did come back


def test_a_handler_that_sends_stops_both_ranks_with_one_line_unless_the_window_exchange_orders_it():
    stopped = ping_pong("handler-forward", ranks=2)
    assert "S2SIM_MPI_EXCHANGE=window" in stopped["error"] and "\n" not in stopped["error"]
    one, window = ping_pong("handler-forward"), ping_pong("handler-forward", ranks=2, exchange="window")
    assert window["booking"] == "pieces" and window["logs"] == one["logs"]
    assert [what for what, *_ in one["logs"]["153"]] == ["packet"]


def test_a_lower_rank_handler_that_sends_across_is_booked_before_the_upper_rank_books_past_it():
    one, window = ping_pong("handler-across"), ping_pong("handler-across", ranks=2, exchange="window")
    assert window["booking"] == "pieces" and window["logs"] == one["logs"]
    assert len(one["logs"]["152"]) == 2  # the pong and PE 153's packet both arrived


def test_a_family_that_does_not_split_over_ranks_says_so_once_and_writes_nothing(tmp_path):
    """EventProp loads every copy on every rank: split over 2 ranks it stops at once with one line (from
    rank 0) saying to run it in one process, and no run folder looks done."""
    cmd = [MPIRUN, "-n", "2", sys.executable, "-m", "s2sim.cli", "run", str(REPO / "networks" / "yinyang_board4.yaml"),
           "--set", "training.max_batches=1", "--out", str(tmp_path / "run"), "--quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 2
    assert out.stderr.count("error:") == 1 and "without --ranks" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "run" / "summary.json").exists()
