"""Fuzzing `s2sim validate` (and a sample through `s2sim run`): a clear one-line error or success, always.

Bounded in CI by the ``ci`` Hypothesis profile (tests/conftest.py); ``--hypothesis-profile=long``
runs many more cases (see tests/fuzz/README.md for the command and the last counts).
"""
from __future__ import annotations

import json

import pytest
from fuzz_cli import (NETWORKS, REPO, VALIDATE_LIMIT_S, invoke, mutated_network, run_subprocess,
                      set_expressions)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SLOW_OK = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.function_scoped_fixture])


@SLOW_OK
@given(case=mutated_network())
def test_a_mutated_network_file_is_accepted_or_refused_in_one_line(tmp_path, case):
    name, text = case
    path = tmp_path / name
    path.write_text(text)
    invoke(["validate", str(path)], VALIDATE_LIMIT_S)


@SLOW_OK
@given(network=st.sampled_from(NETWORKS), sets=set_expressions())
def test_bad_set_overrides_are_refused_in_one_line(network, sets):
    args = ["validate", str(network)]
    for expr in sets:
        args += ["--set", expr]
    invoke(args, VALIDATE_LIMIT_S)


@SLOW_OK
@given(blob=st.one_of(st.binary(min_size=1, max_size=400),
                      st.text(max_size=200).map(lambda t: ("name: caf\u00e9\n" + t).encode("latin-1", "replace")),
                      st.sampled_from([b"\xff\xfe\x00n\x00a", b"name: x\x00\nfirmware: {package: eprop}\n",
                                       b"\xef\xbb\xbfname: x\n", b"a: &a [1]\nb: *a\n" * 3, b"- 1\n- 2\n", b"",
                                       b"name: [" * 5000])))
def test_binary_and_non_utf8_files_are_one_line_errors(tmp_path, blob):
    path = tmp_path / "net.yaml"
    path.write_bytes(blob)
    invoke(["validate", str(path)], VALIDATE_LIMIT_S)


def test_a_huge_file_is_refused_quickly(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\nfirmware: {package: eprop}\ndescription: '" + "y" * (3 << 20) + "'\n")
    code, err, _ = invoke(["validate", str(path)], VALIDATE_LIMIT_S)
    assert code == 2 and "bytes" in err


def test_the_issue_cases_are_refused_by_validate_as_run_would(tmp_path):
    """The configs issue 10 found accepted by validate but crashing or hanging in run."""
    cases = [("gsc", "run.tick_ns=.inf"), ("gsc", "dataset.n_train=0"), ("gsc", "dataset.n_test=0"),
             ("yinyang", "run.seed=-1"), ("yinyang", "network.weight_decay=-1"),
             ("yinyang", "network.threshold=0"), ("gsc", "network.v_th=0"), ("gsc", "network.tau_m=.nan"),
             ("yinyang", "network.epochs=0"), ("gsc", "training.epochs=0"), ("lif_bench", "dataset.name=npz"),
             ("lif_bench", "training.epochs=1"), ("gsc", "network.n_rec=100000")]
    for net, expr in cases:
        code, err, took = invoke(["validate", str(REPO / "networks" / f"{net}.yaml"), "--set", expr], VALIDATE_LIMIT_S)
        assert code == 2, (net, expr, err)
        assert took < 5.0, (net, expr, took)


def test_a_subprocess_sample_of_bad_configs_exits_2_without_traceback(tmp_path):
    (tmp_path / "bin.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: d\nfirmware: {package: eprop}\nnetwork: " + "[" * 5000 + "]" * 5000 + "\n")
    for args in (["validate", str(tmp_path / "bin.yaml")], ["validate", str(deep)],
                 ["validate", "networks/gsc.yaml", "--set", "network.n_rec=100000"],
                 ["validate", "networks/lif_bench.yaml", "--set", "run.tick_ns=.nan"]):
        code, _ = run_subprocess(args, REPO, timeout_s=60)
        assert code == 2


# ---- accepted configs through `s2sim run`, tiny sizes ----------------------------------------------
TINY = {
    "lif_bench": ["--set", "run.ticks=5", "--set", "network.layers=[8,16,8]", "--set", "mapping.neurons_per_pe=8"],
    "gsc": ["--set", "dataset.n_train=2", "--set", "dataset.n_valid=2", "--set", "dataset.n_test=2",
            "--set", "training.epochs=1", "--set", "network.n_rec=12"],
    "yinyang": ["--set", "network.batch=2", "--set", "network.epochs=1", "--set", "training.max_batches=1",
                "--set", "network.layers=[5,8,3]"],
}
TWEAKS = {
    "lif_bench": ["network.p_connect", "network.weight_std", "network.threshold", "network.tau_mem_ms",
                  "network.input_rate_hz", "run.seed", "run.tick_ns"],
    "gsc": ["network.tau_m", "network.v_th", "network.l2", "run.seed", "mapping.pes", "network.beta"],
    "yinyang": ["network.lr", "network.threshold", "network.weight_decay", "run.seed", "network.tau_syn_ms"],
}


# each case is a real (tiny) run: a handful in CI, more with the long profile
RUN_EXAMPLES = 6 if settings.default.max_examples <= 100 else 40


@settings(SLOW_OK, max_examples=RUN_EXAMPLES)
@given(net=st.sampled_from(sorted(TINY)), data=st.data())
def test_accepted_tiny_configs_run_or_fail_in_one_line(tmp_path_factory, net, data):
    key = data.draw(st.sampled_from(TWEAKS[net]))
    value = data.draw(st.sampled_from(["0", "1", "3", "0.5", "1e-3", "-2", "2.5", "40"]))
    sets = TINY[net] + ["--set", f"{key}={value}"]
    path = str(REPO / "networks" / f"{net}.yaml")
    code, _, _ = invoke(["validate", path, *sets], VALIDATE_LIMIT_S)
    if code != 0:
        return
    out = tmp_path_factory.mktemp("run") / "out"
    code, _, _ = invoke(["run", path, *sets, "--out", str(out), "--quiet"], 300.0)
    if code == 0:
        summary = json.loads((out / "summary.json").read_text())
        assert summary["samples"] >= 1
    else:
        assert not out.exists() or any(out.iterdir()), "a failed run left an empty run directory"


@pytest.mark.parametrize("net", sorted(TINY))
def test_each_tiny_network_runs_in_process(tmp_path, net):
    out = tmp_path / "out"
    code, err, _ = invoke(["run", str(REPO / "networks" / f"{net}.yaml"), *TINY[net], "--out", str(out),
                           "--quiet"], 300.0)
    assert code == 0, err
    assert json.loads((out / "summary.json").read_text())["timesteps"] > 0


def test_huge_lif_layers_are_refused_before_any_slice_or_weight_is_built():
    lif = str(REPO / "networks" / "lif_bench.yaml")
    for layers in ("[1000000000000,5]", "[300000,300000]"):
        code, err, took = invoke(["validate", lif, "--set", f"network.layers={layers}", "--set",
                                  "mapping.neurons_per_pe=4096"], VALIDATE_LIMIT_S)
        assert code == 2 and ("synapses" in err or "PEs" in err), err
        assert took < 5.0, (layers, took)
