"""The answer key (grading side): the stored visible cases are what it makes now, its cases
are the contract the grader confirms marks on, and the stand-in model's digits are safe."""

from __future__ import annotations

import numpy as np
import pytest

import answer_styles
from course_grading import answers
from course_utils import exercises, plain


def test_the_stored_visible_cases_are_what_the_answer_key_makes_now(tmp_path):
    stored = plain.unpack(exercises.visible_cases_path().read_bytes())
    fresh = tmp_path / "visible_cases.npz"
    assert answers.write_visible_cases(fresh) is True
    assert answers.same(stored, plain.unpack(fresh.read_bytes()))
    assert answers.same(stored, answers.visible_store())
    assert answers.stale_visible_cases() == []


def test_writing_the_same_cases_again_leaves_the_file_alone(tmp_path):
    path = tmp_path / "visible_cases.npz"
    answers.write_visible_cases(path)
    before = path.read_bytes()
    assert answers.write_visible_cases(path) is False
    assert path.read_bytes() == before


def test_a_stale_or_missing_file_is_named(tmp_path):
    path = tmp_path / "visible_cases.npz"
    assert answers.stale_visible_cases(path) == ["missing: visible_cases.npz"]
    value = answers.visible_store()
    value["cases"]["relu"] = value["cases"]["relu"][:1]
    path.write_bytes(plain.pack(value))
    assert answers.stale_visible_cases(path) == [
        "out of date: visible_cases.npz (the cases of relu)"]


def test_only_the_visible_cases_are_stored():
    for name in answers.KEYS:
        stored = exercises.EXERCISES[name].visible_cases()
        assert stored, name
        if name == "predict_digit":
            continue
        fixed = answers.fixed_cases(name)
        assert len(stored) == sum(case.visible for case in fixed) < len(fixed), name
        hidden = [case for case in fixed if not case.visible]
        for case in stored:
            assert not any(answers.same(case.args, h.args) for h in hidden), name


def test_every_exercise_has_an_answer_key_entry():
    assert set(answers.KEYS) == set(exercises.EXERCISES)


def test_drawn_cases_depend_on_the_seed():
    visible = exercises.NEURON.visible_cases()
    everything = answers.all_cases("neuron", seed=7)
    assert len(everything) > len(answers.fixed_cases("neuron")) > len(visible)
    again = answers.all_cases("neuron", seed=7)
    other = answers.all_cases("neuron", seed=8)
    assert np.array_equal(everything[-1].args[0], again[-1].args[0])
    assert not np.array_equal(everything[-1].args[0], other[-1].args[0])


@pytest.mark.parametrize("exercise, style", [
    ("neuron", "no_relu"), ("relu", "abs"), ("accuracy", "error_rate")])
def test_the_graders_cases_reject_what_the_visible_check_rejects(exercise, style):
    source, _ = answer_styles.WRONG[exercise][style]
    function = answer_styles.define(exercise, source)
    with pytest.raises(exercises.Incorrect):
        exercises.judge(exercises.EXERCISES[exercise], function,
                        answers.all_cases(exercise, seed=123))


@pytest.mark.parametrize("exercise", sorted(set(answers.KEYS) - {"predict_digit"}))
def test_the_graders_cases_pass_a_right_answer(exercise):
    source = next(iter(answer_styles.RIGHT[exercise].values()))
    function = answer_styles.define(exercise, source)
    cases = answers.all_cases(exercise, seed=2024)
    assert exercises.judge(exercises.EXERCISES[exercise], function, cases) == len(cases)


def test_the_stand_in_model_gives_the_stored_digits_with_a_clear_margin():
    model = exercises.predict_digit_model()
    cases = exercises.PREDICT_DIGIT.visible_cases()
    images = np.stack([case.args[0] for case in cases])
    probabilities = model.predict(images, verbose=0)
    assert [int(d) for d in probabilities.argmax(axis=1)] == [case.expected for case in cases]
    top, second = np.sort(probabilities, axis=1)[:, -1], np.sort(probabilities, axis=1)[:, -2]
    assert np.all(top > second * np.exp(answers.PREDICT_DIGIT_MARGIN) * 0.99)
    assert len({case.expected for case in cases}) == len(cases) >= 5
