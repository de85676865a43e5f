"""The README, executed: every code block runs as written, or is listed here with the reason it cannot.

Python blocks run against a small config (the template teacher, a few prompts); every YAML block loads
through ``load_config`` (given a minimal ``prompts`` section where it shows another one alone); every
``alttrain`` command line exists with every option it uses (its ``--help``). A block or a command that
needs a GPU, the network, another venv or minutes of training is in :data:`NOT_RUN` or
:data:`PYTHON_NOT_RUN`, named with its reason; anything else the README gains must run here.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from alttrain.cli import app
from alttrain.config import load_config

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
ALTTRAIN = {"alttrain", ".venv/bin/alttrain", ".venv-vllm/bin/alttrain", ".venv-unsloth/bin/alttrain"}

#: shell commands (by their start) that a test does not run, and why; every other command must be alttrain's
NOT_RUN = {
    "bash scripts/setup.sh": "installs the environments from PyPI (minutes)",
    "bash scripts/test.sh": "the whole test suite (20 minutes)",
    "source ~/.cache/alttrain/argilla-home/push-pull.env": "the file a running `review serve` writes",
    "VLLM_NO_USAGE_STATS=1 python -m vllm.entrypoints.openai.run_batch": "needs vLLM's venv and a model (a GPU)",
}
#: Python lines (by their start) not run, and why
PYTHON_NOT_RUN = {
    "outcomes = alttrain.run(": "trains and evaluates a model (minutes); tests/test_cli.py runs the whole loop "
    "through alttrain.run on a tiny model",
}
#: what the Python blocks name, swapped for the small run's
SMALL_RUN = {
    "name": "readme",
    "prompts": {"sources": [{"kind": "harmbench", "n": 4}, {"kind": "reasoning_gym", "size": 4}]},
    "curation": {"selection": {"n": 4}},
}
MINIMAL_PROMPTS = {"sources": [{"kind": "harmbench", "n": 1}]}


def blocks(language: str) -> list[str]:
    """The README's fenced blocks in ``language``, in order."""
    return [body for tag, body in FENCE.findall(README.read_text()) if tag == language]


def commands() -> list[str]:
    """Every shell command of the README's bash blocks (continuations joined, ``&&`` chains split, comments cut)."""
    found = []
    for body in blocks("bash"):
        for line in body.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            found.extend(" ".join(part).strip() for part in _split_chain(words))
    return [command for command in found if command]


def _split_chain(words: list[str]) -> list[list[str]]:
    chains: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            chains.append([])
        else:
            chains[-1].append(word)
    return chains


def test_the_readme_has_the_blocks_this_test_reads() -> None:
    assert len(blocks("python")) == 1
    assert len(blocks("yaml")) >= 5
    assert any(command.startswith("alttrain synthesize") for command in commands())


def not_run(command: str) -> bool:
    """Whether ``command`` is one :data:`NOT_RUN` names."""
    return any(command.startswith(start) for start in NOT_RUN)


def test_every_command_not_run_is_in_the_readme() -> None:
    for start in NOT_RUN:
        assert any(command.startswith(start) for command in commands()), f"NOT_RUN names {start!r}, gone from README"


@pytest.mark.parametrize("command", [command for command in commands() if not not_run(command)])
def test_every_command_exists_with_its_options(command: str) -> None:
    words = shlex.split(command)
    env = [word for word in words if re.fullmatch(r"[A-Z_]+=\S*", word)]
    program, *arguments = words[len(env):]
    assert program in ALTTRAIN, f"the README runs {command!r}: add it to NOT_RUN with a reason, or run it here"
    path = [word for word in arguments[: next((i for i, w in enumerate(arguments) if w.startswith("-")),
                                              len(arguments))]]  # fmt: skip
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, f"{command}: {result.output}"
    for option in (word for word in arguments if word.startswith("-")):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.output), f"{command}: no {option}"


@pytest.mark.parametrize("index", range(len(blocks("yaml"))))
def test_every_config_snippet_loads(index: int, tmp_path: Path) -> None:
    data = yaml.safe_load(blocks("yaml")[index])
    data.setdefault("prompts", MINIMAL_PROMPTS)  # a snippet that shows another section alone
    path = tmp_path / "snippet.yaml"
    path.write_text(yaml.safe_dump(data))
    load_config(str(path))


def test_your_own_traces_snippet_reads_a_true_false_label_column(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from alttrain.sources.pool import build_prompt_pool

    snippet = next(yaml.safe_load(body) for body in blocks("yaml") if "my_traces.jsonl" in body)
    monkeypatch.chdir(tmp_path)  # the snippet's path is relative
    rows = [{"question": f"question {i}?", "is_harmful": i % 2 == 0, "think": f"thinking {i}", "answer": f"{i}"}
            for i in range(4)]  # fmt: skip
    Path("my_traces.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = load_config(_written(tmp_path / "traces.yaml", snippet))
    pool, _ = build_prompt_pool(config.prompts)
    read = {row["prompt"]: (row["label"], row["original_reasoning"]) for row in pool.iter_rows(named=True)}
    assert read == {f"question {i}?": ("harmful" if i % 2 == 0 else "benign", f"thinking {i}") for i in range(4)}


def test_the_python_api_block_runs_on_a_small_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = blocks("python")
    lines = [line for line in block.splitlines() if not any(line.startswith(s) for s in PYTHON_NOT_RUN)]
    assert len(lines) == len(block.splitlines()) - len(PYTHON_NOT_RUN)  # each listed line is there
    monkeypatch.chdir(tmp_path)  # the block's relative paths: the config and runs/notebook
    _written(tmp_path / "configs" / "quickstart.yaml", SMALL_RUN)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile("\n".join(lines), "README.md", "exec"), {})  # noqa: S102 - the README's own code
    assert printed.getvalue().strip() == "4"  # curation.report.selected
    assert (tmp_path / "runs" / "notebook" / "curated.parquet").exists()


def _written(path: Path, data: dict) -> str:
    """Write ``data`` as YAML at ``path``; return the path as a string (as a user would pass it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return str(path)
