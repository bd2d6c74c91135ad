"""The catalogue of bad inputs a hostile but realistic user brings: bad recipes, overrides, data, models, scorers
and run dirs. Each case builds its `align run` arguments in a tmp dir and names the one line it must end with;
`test_bad_input.py` runs them and asserts exit code 2, that line, no traceback and no partial artifact."""

import json
import shutil

from align.data.jsonl import write_jsonl
from align.world import resolve, tasks

SAMPLES = [
    {"prompt": tasks.user("List 2 fruits."), "completion": c, "sample_index": i, "answer": "1"}
    for i, c in enumerate(["fig, kiwi", "cat"])
]


def score_recipe(t, scorer: str) -> list[str]:
    write_jsonl(t / "s.jsonl", SAMPLES)
    (t / "r.yaml").write_text(f"tracking: none\nstages:\n  s: {{stage: score, data: {t}/s.jsonl, scorer: {scorer}}}\n")
    return [str(t / "r.yaml")]


def recipe(t, text: str) -> list[str]:
    (t / "r.yaml").write_text(text)
    return [str(t / "r.yaml")]


def data(t, content: str | bytes, name="d.jsonl") -> str:
    path = t / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def model_copy(t, broken: str) -> str:
    target = t / "m"
    shutil.copytree(resolve("world:base"), target)
    if broken == "weights":
        (target / "model.safetensors").write_bytes(b"\x00not safetensors")
    elif broken == "tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (target / name).unlink(missing_ok=True)
    elif broken == "template":  # a base model: no chat template
        (target / "chat_template.jinja").unlink()
    return str(target)


def select_without_samples(t) -> list[str]:
    """A select stage whose `prompts` include one the samples do not cover."""
    write_jsonl(t / "scored.jsonl", [dict(row, score=1.0) for row in SAMPLES])
    write_jsonl(t / "prompts.jsonl", [{"prompt": tasks.user(p)} for p in ("List 2 fruits.", "List 1 colors.", "x")])
    stage = f"  rs: {{stage: select, data: {t}/scored.jsonl, rule: best_of_n, prompts: {t}/prompts.jsonl}}\n"
    return recipe(t, "tracking: none\nstages:\n" + stage)


def pairs_recipe(t, stage_type: str) -> list[str]:
    """A training stage on preference pairs whose second pair is no preference at all."""
    write_jsonl(
        t / "prefs.jsonl",
        [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "q", "chosen": "x", "rejected": "x"}],
    )
    return recipe(
        t, f"tracking: none\nstages:\n  t: {{stage: {stage_type}, model: world:base, data: {t}/prefs.jsonl}}\n"
    )


ROW = json.dumps({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]})
CASES = {
    # recipes
    "recipe not yaml": (lambda t: recipe(t, "stages: [unclosed"), r"r\.yaml: line 1, column 18: not valid YAML"),
    "recipe duplicate stage key": (
        lambda t: recipe(
            t, "stages:\n  a: {stage: evaluate, model: world:base}\n  a: {stage: evaluate, model: world:base}\n"
        ),
        r"duplicate key 'a'",
    ),
    "recipe cyclic params": (
        lambda t: recipe(t, "a: ${b}\nb: ${a}\nstages:\n  s: {stage: evaluate, model: '${a}'}\n"),
        r"refers to itself",
    ),
    "recipe recursive anchor": (
        lambda t: recipe(t, "x: &x [*x]\nstages:\n  s: {stage: evaluate, model: world:base}\n"),
        r"refers to itself",
    ),
    "recipe unknown ref": (
        lambda t: recipe(t, "stages:\n  s: {stage: evaluate, model: '${nope}'}\n"),
        r"\$\{nope\}, which is not a recipe key or stage",
    ),
    "recipe stage without type": (
        lambda t: recipe(t, "stages:\n  s: {model: world:base}\n"),
        r"stage 's' has no `stage:`",
    ),
    "recipe it-name collision": (
        lambda t: recipe(
            t,
            "stages:\n  it1-e: {stage: evaluate, model: world:base}\n"
            "  l: {repeat: 1, stages: {e: {stage: evaluate, model: world:base}}}\n",
        ),
        r"two stages are named 'it1-e'",
    ),
    "recipe bad stage name": (
        lambda t: recipe(t, "stages:\n  'a b': {stage: evaluate, model: world:base}\n"),
        r"stage name 'a b'",
    ),
    "recipe bad repeat": (
        lambda t: recipe(t, "stages:\n  l: {repeat: 0, stages: {e: {stage: evaluate}}}\n"),
        r"l\.repeat must be a positive integer",
    ),
    "recipe missing file": (lambda t: [str(t / "nope.yaml")], r"recipe file not found"),
    # overrides
    "override stages=1": (lambda t: ["sft", "stages=1"], r"`stages` must stay a non-empty mapping"),
    "override not key=value": (lambda t: ["sft", "epochs"], r"override 'epochs' is not key=value"),
    "override seed not int": (lambda t: ["sft", "seed=abc"], r"seed must be an integer"),
    "override tracking": (lambda t: ["sft", "tracking=tensorboard"], r"tracking must be 'wandb' or 'none'"),
    "override epochs zero": (lambda t: ["sft", "stages.sft.epochs=0"], r"key 'epochs'.*greater than 0"),
    "override scheduler typo": (lambda t: ["sft", "stages.sft.lr_scheduler=cosin"], r"key 'lr_scheduler'"),
    "override dtype typo": (lambda t: ["sft", "stages.sft.dtype=fp8"], r"key 'dtype'"),
    "override trainer unknown field": (
        lambda t: ["sft", "stages.sft.trainer={max_grad_nrm: 1}"],
        r"SFTConfig has no field\(s\) \['max_grad_nrm'\]",
    ),
    "override trainer owned field": (
        lambda t: ["sft", "stages.sft.trainer={learning_rate: 1}"],
        r"trainer\.learning_rate: set `learning_rate`",
    ),
    "override dpo loss typo": (
        lambda t: ["xwin-pipeline", "stages.dpo.loss_type=sigmoidd"],
        r"unknown loss \['sigmoidd'\]",
    ),
    "override select rule typo": (lambda t: ["xwin-pipeline", "rs_selection=best"], r"stage 'rs_data': key 'rule'"),
    "override backend typo": (
        lambda t: ["xwin-pipeline", "stages.xwin_set.backend=vlm"],
        r"stage 'xwin_set': key 'backend'",
    ),
    "override absurd n": (lambda t: ["xwin-pipeline", "n=100000000000"], r"n=100000000000 samples of 700 prompts need"),
    "override eval nothing": (
        lambda t: [
            "sft",
            "stages.eval_sft.verifiable=null",
            "stages.eval_sft.instruct=null",
            "stages.eval_sft.reference=null",
        ],
        r"nothing to evaluate",
    ),
    # data
    "data missing file in a late stage": (
        lambda t: ["xwin-pipeline", "data.prompts=missing.jsonl"],
        r"stage 'pair_sample', key 'prompts' \(= \$\{data.prompts\}\): dataset not found",
    ),
    "data malformed json": (lambda t: ["sft", "data.sft=" + data(t, ROW + "\n{oops\n")], r"line 2: malformed JSON"),
    "data not an object": (lambda t: ["sft", "data.sft=" + data(t, "[1, 2]\n")], r"line 1: expected a JSON object"),
    "data no assistant turn": (
        lambda t: ["sft", "data.sft=" + data(t, json.dumps({"messages": [{"role": "user", "content": "x"}]}))],
        r"no assistant turn",
    ),
    "data non-utf8": (
        lambda t: ["sft", "data.sft=" + data(t, b'{"prompt": "\xff", "completion": "x"}\n')],
        r"not valid UTF-8",
    ),
    "data bad tests column": (
        lambda t: ["eval", "stages.eval.verifiable=" + data(t, json.dumps({"prompt": "x", "tests": 3}))],
        r"record 1: 'tests' must be Python asserts",
    ),
    "data tests that pass any program": (
        lambda t: ["eval", "stages.eval.verifiable=" + data(t, json.dumps({"prompt": "x", "tests": ""}))],
        r"record 1: 'tests' holds no assert: it would pass any program",
    ),
    "data stdio tests missing outputs": (
        lambda t: [
            "eval",
            "stages.eval.verifiable=" + data(t, json.dumps({"prompt": "x", "tests": {"inputs": ["3"], "outputs": []}})),
        ],
        r"record 1: 'tests' has 1 inputs but 0 outputs",
    ),
    # models
    "model corrupt weights": (
        lambda t: ["eval", "model=" + model_copy(t, "weights")],
        r"m/model\.safetensors: not a readable",
    ),
    "model without tokenizer": (lambda t: ["eval", "model=" + model_copy(t, "tokenizer")], r"has no tokenizer"),
    "model path missing": (lambda t: ["eval", f"model={t}/none/model"], r"model dir not found"),
    "model without chat template on chat data": (
        lambda t: ["sft", "model=" + model_copy(t, "template")],
        r"stage 'eval_base', key 'verifiable' \(= \$\{data.verifiable\}\): world:arith_test holds chat messages, "
        r"but model '.*/m' has no chat template",
    ),
    "reward model is a policy": (
        lambda t: ["xwin-pipeline", "stages.eval_rs.scorers={rm: {name: reward_model, model: 'world:base'}}"],
        r"world:base is not a reward model",
    ),
    # scorers
    "scorer syntax error": (lambda t: score_recipe(t, "tests.fake_scorers_broken:score"), r"syntax error in .*line 1"),
    "scorer not callable": (lambda t: score_recipe(t, "tests.fake_scorers:not_callable"), r"is not callable"),
    "scorer raises": (
        lambda t: score_recipe(t, "tests.fake_scorers:raises"),
        r"scorer tests.fake_scorers:raises raised KeyError",
    ),
    "scorer calls sys.exit(0)": (lambda t: score_recipe(t, "tests.fake_scorers:exits"), r"called sys\.exit\(0\)"),
    "scorer wrong length": (lambda t: score_recipe(t, "tests.fake_scorers:short"), r"wrong length"),
    "scorer bad option": (lambda t: score_recipe(t, "{name: code, timeout_s: -1}"), r"scorer 'code': timeout_s"),
    "scorer code isolation typo": (
        lambda t: score_recipe(t, "{name: code, isolation: chroot}"),
        r"scorer 'code': isolation: Input should be 'namespace' or 'none'",
    ),
    "scorer unknown option": (lambda t: score_recipe(t, "{name: math, strict: true}"), r"scorer 'math': strict"),
    "scorer missing model option": (
        lambda t: score_recipe(t, "reward_model"),
        r"scorer 'reward_model': model: Field required",
    ),
    # from the CLI's first checks
    "data missing column": (lambda t: ["sft", "data.sft=" + data(t, json.dumps({"prompt": "x"}))], r"missing column"),
    "data wrong type": (
        lambda t: ["sft", "data.sft=" + data(t, json.dumps({"prompt": 1, "completion": "x"}))],
        r"'prompt' must be a string",
    ),
    "data empty": (lambda t: ["sft", "data.sft=" + data(t, "")], r"empty"),
    "data file missing": (lambda t: ["sft", f"data.sft={t}/none.jsonl"], r"dataset not found"),
    "data typo'd relative path": (lambda t: ["sft", "data.sft=data/mine.parquet"], r"dataset not found: data/mine"),
    "data corrupt parquet": (
        lambda t: ["sft", "data.sft=" + data(t, "not parquet", "d.parquet")],
        r"d\.parquet: not a readable parquet file",
    ),
    "data json array of non-objects": (
        lambda t: ["sft", "data.sft=" + data(t, "[1, 2]", "d.json")],
        r"d\.json: record 1: expected a JSON object, got int",
    ),
    "data unknown world asset": (lambda t: ["sft", "data.sft=world:nothing"], r"unknown world asset"),
    "recipe unknown": (lambda t: ["no-such-recipe"], r"unknown recipe 'no-such-recipe'"),
    "recipe unknown stage type": (
        lambda t: recipe(t, "stages:\n  x: {stage: teleport, model: world:base}\n"),
        r"unknown stage type 'teleport'",
    ),
    "override unknown stage key": (lambda t: ["sft", "stages.sft.epoch=2"], r"unknown key 'epoch'"),
    "override unknown top-level key": (lambda t: ["sft", "modle=world:base"], r"unknown recipe key 'modle'"),
    "override unknown stage": (lambda t: ["sft", "stages.rm.beta=1"], r"unknown stage 'rm'"),
    "override wrong value type": (lambda t: ["sft", "stages.sft.epochs=many"], r"key 'epochs'.*valid number"),
    "model dir without config": (lambda t: ["sft", f"model={t}"], r"has no config.json"),
    "a scorer given as a model": (
        lambda t: ["alpagasus", "rater=tests.fake_scorers:rating"],
        r"stage 'rate', key 'judge' \(= \$\{rater\}\): model dir not found: tests.fake_scorers:rating is no local "
        r"path, and not a hub id",
    ),
    "data prompts longer than max_length": (
        lambda t: ["sft", "stages.sft.max_length=8"],
        r"stage 'sft': world:sft: 700 of 700 rows keep no completion token within max_length=8 \(record 1 is the "
        r"first\): .*too_long: drop",
    ),
    # sampling, scoring and preference stages
    "scorer returns nan": (lambda t: score_recipe(t, "tests.fake_scorers:nan"), r"scores must be finite numbers"),
    "scorer returns text": (lambda t: score_recipe(t, "tests.fake_scorers:text"), r"scores must be finite numbers"),
    "scorer unknown": (lambda t: score_recipe(t, "nosuchscorer"), r"unknown scorer"),
    "scorer reward model is a policy": (
        lambda t: score_recipe(t, "{name: reward_model, model: 'world:base'}"),
        r"is not a reward model",
    ),
    "select prompt without samples": (
        lambda t: select_without_samples(t),
        r"prompt 2 of .*prompts.jsonl has no samples \('user: List 1 colors.'\)",
    ),
    "dpo pair chosen = rejected": (
        lambda t: pairs_recipe(t, "dpo"),
        r"record 2: 'chosen' and 'rejected' are identical",
    ),
    "reward pair chosen = rejected": (
        lambda t: pairs_recipe(t, "reward"),
        r"record 2: 'chosen' and 'rejected' are identical",
    ),
    "filter same_size_as larger than its data": (
        lambda t: recipe(
            t,
            "tracking: none\nstages:\n  f: {stage: filter, method: random, "
            f"data: {data(t, ROW)}, same_size_as: {data(t, (ROW + chr(10)) * 3, 'big.jsonl')}}}\n",
        ),
        r"stage 'f': same_size_as .*big\.jsonl has 3 rows, more than the 1 rows of",
    ),
    "distill targets file missing": (
        lambda t: ["kd", f"stages.kd.targets={t}/none.safetensors"],
        r"stage 'kd': targets: teacher targets file not found: .*none\.safetensors",
    ),
    "reference to an output the stage cannot make": (
        lambda t: ["sft", "stages.eval_sft.model=${eval_base.model}"],
        r"stage 'eval_sft' refers to \$\{eval_base.model\}, but stage 'eval_base' \(evaluate\) has no output 'model'",
    ),
    "extends drops a stage that does not exist": (
        lambda t: recipe(t, "extends: sft\nstages:\n  eval_sftt: null\n"),
        r"r\.yaml: cannot drop stage 'eval_sftt': there is no such stage",
    ),
    "data empty text": (
        lambda t: ["dpkd", "data.pretrain=" + data(t, json.dumps({"text": " "}))],
        r"record 1: 'text' is empty: there is nothing to learn from",
    ),
    "a rule across fields": (
        lambda t: ["kd", "stages.kd.pretrain_targets=x.safetensors"],
        r"^error: stage 'kd': pretrain_targets needs pretrain_data \(the rows they were computed on\)$",
    ),
    "filter keeps none at run time": (
        lambda t: recipe(
            t,
            "tracking: none\nstages:\n  f: {stage: filter, method: random, "
            f"data: {data(t, (ROW + chr(10)) * 4)}, top_fraction: 0.01}}\n",
        ),
        r"^error: stage 'f': .*d\.jsonl: top 0\.01 keeps none of the 4 rows",
    ),
    "pretrain init transformers rejects": (
        lambda t: [
            "miniplm",
            "small={model_type: llama, hidden_size: 30, num_attention_heads: 4, num_hidden_layers: 1}",
        ],
        r"stage 'reference': `init` is not a config transformers accepts: ValueError: The hidden size \(30\) is not "
        r"a multiple of the number of attention heads \(4\)",
    ),
    "pretrain init negative size": (
        lambda t: [
            "miniplm",
            "small={model_type: llama, hidden_size: -4, num_attention_heads: 4, num_hidden_layers: 1}",
        ],
        r"stage 'reference': `init` builds no model: RuntimeError: Trying to create tensor with negative dimension",
    ),
    # run dirs
    "run dir empty string": (lambda t: ["sft", "--run-dir", ""], r"--run-dir is empty"),
}
