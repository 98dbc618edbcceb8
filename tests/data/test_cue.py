"""The cue-accumulation generator follows spec §5.1: cue windows, one side per cue, recall, noise, label."""
import numpy as np
import pytest
from pydantic import ValidationError

from s2sim.data.cue import CueConfig, cue_trials, load_cue

CFG = CueConfig(n_train=12, n_test=6)
CH = 10  # channels per group


def _cue_sides(x, cfg=CFG):
    """Side of each cue read back from the spikes in its window (left group 0, right group 1)."""
    sides = []
    for k in range(cfg.n_cues):
        a = cfg.t_interval_steps - cfg.t_cue_steps + k * cfg.t_interval_steps
        win = x[a:a + cfg.t_cue_steps]
        left, right = win[:, :CH].sum(), win[:, CH:2 * CH].sum()
        assert min(left, right) == 0 and max(left, right) > 0  # exactly one side fires per cue
        sides.append(int(right > 0))
    return sides


def test_a_trial_is_2250_steps_of_40_channels_and_the_seed_fixes_it():
    a, b, c = load_cue(CFG, 0), load_cue(CFG, 0), load_cue(CFG, 1)
    X = a.splits["train"].X
    assert X.shape == (12, 2250, 40) and set(np.unique(X)) <= {0.0, 1.0}
    assert np.array_equal(X, b.splits["train"].X)
    assert not np.array_equal(X, c.splits["train"].X)
    assert not np.array_equal(X[:6], a.splits["test"].X)  # the test split has its own stream


def test_cues_fire_only_in_their_windows_on_one_side_and_the_label_is_the_majority():
    X, y = cue_trials(CFG, 20, np.random.RandomState(3))
    for x, label in zip(X, y):
        sides = _cue_sides(x)
        assert label == int(sum(sides) > 3)
        cue_steps = np.zeros(2250, bool)
        for k in range(7):
            cue_steps[50 + 150 * k:150 + 150 * k] = True
        assert x[~cue_steps, :2 * CH].sum() == 0  # left/right silent between cues and during the wait
        assert x[:-150, 2 * CH:3 * CH].sum() == 0 and x[-150:, 2 * CH:3 * CH].sum() > 0  # recall at the end
    assert 0 < y.mean() < 1


def test_rates_are_f0_for_cues_and_recall_and_f0_over_4_for_noise():
    X, _ = cue_trials(CFG, 30, np.random.RandomState(4))
    noise = X[:, :, 3 * CH:].mean()
    recall = X[:, -150:, 2 * CH:3 * CH].mean()
    cue = X[:, 50:150, :2 * CH].sum() / (30 * 100 * CH)  # first cue: one group of 10 fires
    assert abs(noise - 0.01) < 0.001 and abs(recall - 0.04) < 0.005 and abs(cue - 0.04) < 0.005


def test_the_likely_side_gets_about_70_percent_of_the_cues():
    X, _ = cue_trials(CueConfig(), 300, np.random.RandomState(5))
    sides = np.array([_cue_sides(x) for x in X])
    majority_share = np.maximum(sides.mean(1), 1 - sides.mean(1)).mean()
    assert 0.66 < majority_share < 0.80  # 0.7 per cue, plus the majority bias of counting 7 cues


def test_inconsistent_timing_is_refused():
    with pytest.raises(ValidationError, match="t_cue_steps"):
        CueConfig(t_cue_steps=200)
