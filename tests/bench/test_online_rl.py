"""The online-RL report's own measure of answer format: what the `math` verifier lets through and the world's
check of the working does not."""

from align.bench.online_rl import boxed_share


def test_boxed_share_counts_answers_that_end_in_a_well_formed_box():
    rows = [
        {"prompt": "p", "completion": "88+5=93;\\boxed{93}"},
        {"prompt": "p", "completion": "5-9=-4;\\boxed{-4} "},
        {"prompt": "p", "completion": "88+5=93;93+8=101;\\boxeeee{9}"},  # a collapse seen in RLOO (seed 0): the
        {"prompt": "p", "completion": "88+5=93;\\boxed{93}\\boxed"},  # math verifier reads 101, the last number
    ]
    assert boxed_share(rows) == 0.5
    assert boxed_share([]) == 0.0


def test_a_sitting_that_reuses_runs_adds_its_clock_to_the_earlier_ones():
    from align.bench.learning import record_clock, sittings

    results = {"wall_s": {"online-rl": 3300.0}}  # a report written before sittings were kept
    record_clock(results, "online-rl", 780.0, resumed=True)
    assert results["wall_s"]["online-rl"] == 4080.0 and "(in 2 sittings, 55 + 13 min" in sittings(results, "online-rl")
    record_clock(results, "online-rl", 3600.0, resumed=False)  # from scratch: the clock starts over
    assert results["wall_s"]["online-rl"] == 3600.0 and sittings(results, "online-rl") == ""
