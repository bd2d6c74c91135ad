"""What a set of rows is made of: task family and right answers, lucky right answers, broken checks."""

import pytest

from align.world import tasks


def test_composition_knows_right_and_wrong_answers_of_each_family():
    from align.bench.composition import composition, family_and_right

    arith = {
        "prompt": tasks.user("Compute 3+4."),
        "completion": tasks.assistant(tasks.arith_solution_clean({"expr": "3+4"})),
    }
    wrong_arith = {"prompt": tasks.user("Compute 3+4."), "completion": tasks.assistant("\\boxed{8}")}
    listing = {"prompt": tasks.user("List 2 fruits, in upper case."), "completion": tasks.assistant("APPLE, PEAR")}
    wrong_listing = {"prompt": tasks.user("List 2 fruits, in upper case."), "completion": tasks.assistant("apple")}
    reverse = {"prompt": tasks.user("Reverse: cat dog owl"), "completion": tasks.assistant("owl dog cat")}
    wrong_reverse = {"prompt": tasks.user("Reverse: cat dog owl"), "completion": tasks.assistant("cat dog owl")}
    rows = [arith, wrong_arith, listing, wrong_listing, reverse, wrong_reverse]
    assert [family_and_right(r) for r in rows] == [
        ("arith", True),
        ("arith", False),
        ("instruct", True),
        ("instruct", False),
        ("reference", True),
        ("reference", False),
    ]
    shares = composition(rows)
    assert shares["right"] == 0.5 and shares["arith"] == pytest.approx(1 / 3) and shares["right_reference"] == 0.5


def test_arith_working_tells_a_lucky_right_answer_from_right_working():
    from align.bench.composition import arith_working

    right = tasks.arith_solution_clean({"expr": "30+2+1"})  # 30+2=32;32+1=33;\boxed{33}
    lucky = "30+1=31;31+2=33;\\boxed{33}"  # the right answer, reached by the wrong working
    rows = [
        {"prompt": tasks.user("Compute 30+2+1."), "completion": tasks.assistant(right), "score": 1.0},
        {"prompt": tasks.user("Compute 30+2+1."), "completion": lucky, "score": 1.0},
        {"prompt": tasks.user("Compute 30+2+1+5."), "completion": "\\boxed{30}", "score": 0.0},
        {"prompt": tasks.user("List 2 fruits."), "completion": "Apple, Pear"},
    ]  # not arithmetic: ignored
    found = arith_working(rows)
    assert found["2"] == {"rows": 2, "right_working": 0.5, "score": 1.0}
    assert found["3"] == {"rows": 1, "right_working": 0.0, "score": 0.0}
    assert found["all"]["rows"] == 3 and found["all"]["right_working"] == pytest.approx(1 / 3)
    assert "score" not in arith_working([{"prompt": tasks.user("Compute 3+4."), "completion": right}])["all"]


def test_instruct_failures_counts_each_broken_check_where_it_applies():
    from align.bench.composition import instruct_failures

    rows = [
        {"prompt": tasks.user("List 2 fruits, without plum."), "completion": "Apple, Plum"},  # breaks exclude
        {"prompt": tasks.user("List 2 fruits, without plum."), "completion": "Apple, Pear"},
        {"prompt": tasks.user("List 2 fruits, in upper case."), "completion": "APPLE"},  # breaks count
        {"prompt": tasks.user("Compute 3+4."), "completion": "7"},
    ]  # not an instruction: ignored
    failures = instruct_failures(rows)
    assert failures["exclude"] == 0.5 and failures["count"] == pytest.approx(1 / 3) and failures["case"] == 0.0
