"""timesteps.csv is written in bulk: the same text the csv module writes, and every value reads back exactly."""
import csv
import io
from types import SimpleNamespace

import numpy as np

from s2sim.profile import csv_text
from s2sim.profile.summary import write_timesteps_csv
from s2sim.profile.tables import read_timesteps

from profile_runs import small_run


def awkward_doubles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Doubles over many magnitudes and signs, with the cases that print oddly (zeros, inf, nan, 2**53)."""
    values = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
    specials = [0.0, -0.0, 0.1, 1 / 3, 2.0 ** 53, -2.0 ** 53 + 1, 5e-324, 1.7976931348623157e308, np.inf, -np.inf,
                np.nan, 242113.33333333337]
    values[:len(specials)] = specials
    return values


def the_csv_modules_text(columns: list[np.ndarray]) -> str:
    """What ``csv.writer`` writes for the same Python numbers (whole float columns as integers)."""
    as_python = [c.astype(np.int64).tolist() if c.dtype.kind == "f" and csv_text.writes_as_integers(c) else c.tolist()
                 for c in columns]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(zip(*as_python))
    return out.getvalue()


def test_bulk_text_is_what_the_csv_module_writes(tmp_path):
    rng = np.random.default_rng(7)
    n = 3000
    columns = [np.arange(n), rng.integers(-10**18, 10**18, n), np.zeros(n, np.int64),
               np.array([0, -1, 9, 10, 2**63 - 1, -2**63] * (n // 6)),
               np.array([0, 2**64 - 1, 10**19] * (n // 3), np.uint64),
               rng.integers(0, 10**6, n).astype(float),  # cycle counts: whole floats, written as integers
               awkward_doubles(rng, n), rng.random(n) * 1e6]
    path = tmp_path / "t.csv"
    csv_text.write_numeric_csv(path, list("abcdefgh"), columns)
    assert path.read_text() == "a,b,c,d,e,f,g,h\n" + the_csv_modules_text(columns)


def test_blocks_of_rows_join_into_the_same_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    columns = [np.arange(1000), rng.integers(0, 99, 1000), rng.random(1000), np.full(1000, 12.5)]
    csv_text.write_numeric_csv(tmp_path / "one.csv", list("abcd"), columns)
    monkeypatch.setattr(csv_text, "ROWS_PER_BLOCK", 7)
    csv_text.write_numeric_csv(tmp_path / "many.csv", list("abcd"), columns)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "many.csv").read_bytes()


def fake_run(rng: np.random.Generator, n_rows: int, n_pes: int, used: list[int]):
    """A finished run as ``write_timesteps_csv`` sees it: the counters' public arrays, fractional times."""
    shape = (n_rows + 5, n_pes)  # counters keep spare rows past n_rows
    stats = SimpleNamespace(
        n_rows=n_rows, time_done_ns=np.abs(awkward_doubles(rng, shape[0] * shape[1]).reshape(shape)),
        packets_in=rng.integers(0, 500, shape), packets_out=rng.integers(0, 500, shape),
        busy_cycles=rng.integers(0, 10**7, shape).astype(float),
        phase_cycles={"neuron": rng.integers(0, 10**6, shape).astype(float), "synapses": rng.random(shape) * 1e3})
    return SimpleNamespace(machine=SimpleNamespace(stats=stats), used_pes=used)


def test_every_value_reads_back_exactly(tmp_path):
    sim = fake_run(np.random.default_rng(11), n_rows=400, n_pes=16, used=[0, 3, 4, 15])
    write_timesteps_csv(sim, tmp_path / "timesteps.csv")
    back = read_timesteps(tmp_path / "timesteps.csv")
    stats, pes = sim.machine.stats, sim.used_pes
    expect = {"time_done_ns": stats.time_done_ns, "packets_in": stats.packets_in, "packets_out": stats.packets_out,
              "busy_cycles": stats.busy_cycles, "cycles_neuron": stats.phase_cycles["neuron"],
              "cycles_synapses": stats.phase_cycles["synapses"]}
    assert np.array_equal(back["timestep"], np.repeat(np.arange(400), 4))
    assert np.array_equal(back["pe"], np.tile(pes, 400))
    for name, array in expect.items():
        want = array[:400][:, pes].ravel().astype(np.float64)
        # bit for bit: nan stays nan, -0.0 stays -0.0
        assert np.array_equal(back[name].astype(np.float64).view(np.int64), want.view(np.int64)), name


def test_a_real_runs_counters_read_back_exactly(tmp_path):
    from s2sim.profile.tables import load_run
    out = small_run(tmp_path / "run")
    ts = load_run(out).ts
    assert set(ts) >= {"timestep", "pe", "time_done_ns", "packets_in", "packets_out", "busy_cycles"}
    assert len(ts["pe"]) == 20 * 5 and ts["time_done_ns"].max() > 0
    # rewriting what was read gives the same file: the text is a fixed point of write -> read
    columns = [ts[name] for name in ts]
    csv_text.write_numeric_csv(tmp_path / "again.csv", list(ts), columns)
    assert (tmp_path / "again.csv").read_bytes() == (out / "timesteps.csv").read_bytes()
