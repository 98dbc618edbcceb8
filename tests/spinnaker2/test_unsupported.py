"""What s2sim cannot run as the chip does is one line naming it: in Python a SpiNNaker2Error, and a
script that does not catch it ends with that line on stderr and exit status 2, no traceback."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from s2sim.spinnaker2 import SpiNNaker2Error, hardware, snn

ROOT = Path(__file__).resolve().parents[2]
LIF = {"threshold": 1.0, "alpha_decay": 0.5}


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("model", ["lif_prob", "lif_fugu", "lif_conv2d", "relu"])
def test_a_model_whose_semantics_are_not_established_is_named(model):
    with pytest.raises(SpiNNaker2Error) as err:
        snn.Population(3, model, {}, name="p")
    assert f"'{model}'" in one_line(err) and "not supported" in str(err.value)


def test_the_48_node_board_is_not_modelled_yet():
    with pytest.raises(SpiNNaker2Error) as err:
        hardware.SpiNNcloud48NodeBoard()
    assert "SpiNNcloud48NodeBoard" in one_line(err) and "issue 24" in str(err.value)


def test_conv2d_projections_are_named():
    with pytest.raises(SpiNNaker2Error) as err:
        snn.Conv2DProjection(None, None, np.zeros((1, 1, 3, 3)), {})
    assert "Conv2DProjection" in one_line(err)


def test_a_refractory_period_is_refused_rather_than_guessed():
    pop = snn.Population(2, "lif_curr_exp", LIF | {"exc_decay": 0.5, "inh_decay": 0.5, "t_refrac": 2}, name="p")
    with pytest.raises(SpiNNaker2Error) as err:
        pop.neuron_params()
    assert "t_refrac" in one_line(err)


@pytest.mark.parametrize("params,word", [({"alpha_decay": 0.5}, "threshold"),
                                         (LIF | {"tau_m": 20.0}, "tau_m"),
                                         (LIF | {"reset": "reset_to_zero"}, "reset_to_zero"),
                                         (LIF | {"threshold": [1.0, 2.0]}, "threshold")])
def test_bad_params_name_the_parameter(params, word):
    pop = snn.Population(3, "lif", params, name="p")
    with pytest.raises(SpiNNaker2Error) as err:
        pop.neuron_params()
    assert word in one_line(err) and "'p'" in str(err.value)


@pytest.mark.parametrize("model,conn,word", [("lif", [0, 0, 16, 0], "[-15, 15]"),
                                             ("lif_no_delay", [0, 0, -128, 0], "[-127, 127]"),
                                             ("lif", [0, 0, 1, 8], "0..7"),
                                             ("lif_curr_exp", [0, 0, 1, 1.5], "0..7"),
                                             ("lif", [0, 5, 1, 0], "outside")])
def test_weights_delays_and_indices_the_chip_cannot_hold_are_named(model, conn, word):
    stim = snn.Population(1, "spike_list", {}, name="stim")
    pop = snn.Population(2, model, LIF, name="p")
    with pytest.raises(SpiNNaker2Error) as err:
        snn.Projection(stim, pop, [conn])
    assert word in one_line(err) and "stim->p" in str(err.value)


def test_non_integer_weights_are_rounded_as_the_chip_stores_them_and_said_once(capsys):
    stim = snn.Population(1, "spike_list", {}, name="stim")
    pop = snn.Population(3, "lif_no_delay", LIF, name="q")
    proj = snn.Projection(stim, pop, [[0, 0, 2.4, 0], [0, 1, -2.6, 0], [0, 2, 3.0, 1]])
    assert proj.weight.tolist() == [2.0, -3.0, 3.0]
    assert proj.delay.tolist() == [0, 0, 0]  # _no_delay models have no delay
    snn.Projection(stim, pop, [[0, 0, 2.4, 0], [0, 2, 3.0, 1]])
    notes = capsys.readouterr().err.splitlines()
    assert sum("rounded" in n for n in notes) == 2  # one per projection that rounds
    assert sum("delays ignored" in n for n in notes) == 1  # the same note is said once


def test_eth_ip_is_accepted_and_said_to_be_ignored_once(capsys):
    hardware.SpiNNaker2Chip(eth_ip="10.0.0.99")
    hardware.SpiNNaker2Chip(eth_ip="10.0.0.99")
    err = capsys.readouterr().err
    assert err.count("10.0.0.99") == 1 and "ignored" in err


def test_run_refuses_arguments_it_does_not_know():
    net = snn.Network("n")
    net.add(snn.Population(1, "spike_list", {}, name="s"))
    with pytest.raises(SpiNNaker2Error) as err:
        hardware.SpiNNaker2Chip().run(net, 5, mapping_only=True)
    assert "mapping_only" in one_line(err)


def test_a_network_too_large_for_one_chip_says_so():
    stim = snn.Population(200, "spike_list", {}, name="stim")
    stim.set_max_atoms_per_core(1)
    net = snn.Network("big")
    net.add(stim)
    with pytest.raises(SpiNNaker2Error) as err:
        hardware.SpiNNaker2Chip().run(net, 2)
    assert "200 PEs" in one_line(err)


def test_an_uncaught_error_in_a_script_is_one_line_and_exit_status_2(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        from s2sim.spinnaker2 import hardware, snn
        print("building")
        pop = snn.Population(size=5, neuron_model="lif_prob", params={}, name="pop1")
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "lif_prob" in done.stderr and "Traceback" not in done.stderr
