"""`${...}` references, in their one home: recognised, filled whole or inside text, kept for later, spliced."""

from align.refs import KEEP, deferred, fill, iteration_name


def test_a_whole_reference_keeps_its_type_and_an_inner_one_becomes_text():
    values = {"n": 16, "models": ["a", "b"], "name": "x"}
    lookup = values.__getitem__
    assert fill("${n}", lookup) == 16 and fill("${models}", lookup) == ["a", "b"]
    assert fill("run-${name}-${n}", lookup) == "run-x-16"
    assert fill({"k": ["${name}", 3, {"deep": "${n}"}]}, lookup) == {"k": ["x", 3, {"deep": 16}]}


def test_keep_leaves_a_reference_for_a_later_pass():
    lookup = {"a": 1}.get

    def later(ref):
        return lookup(ref) if ref in ("a",) else KEEP

    assert fill("${a}", later) == 1 and fill("${sft.model}", later) == "${sft.model}"
    assert fill("${a}/${sft.model}", later) == "1/${sft.model}"
    assert deferred("${sft.model}") and deferred("x/${a}") and not deferred("plain") and not deferred(3)


def test_splice_flattens_a_list_reference_inside_a_list_only_when_asked():
    lookup = {"base": "m0", "loop.*.sft.model": ["m1", "m2"]}.__getitem__
    value = ["${base}", "${loop.*.sft.model}"]
    assert fill(value, lookup, splice=True) == ["m0", "m1", "m2"]
    assert fill(value, lookup) == ["m0", ["m1", "m2"]]
    assert fill([["${base}"]], lookup, splice=True) == [["m0"]]  # a nested list item is not spliced


def test_repeat_blocks_name_their_stages_per_iteration():
    assert iteration_name(2, "sample") == "it2-sample"
