"""Peer libraries as contenders in the teacher benches, each run by the Python of its own venv.

A peer cannot share alttrain's environment (its pins clash), so its contender is a script in ``bench/``
that runs there: it reads the prompts from a JSON file (``[{"id": ..., "prompt": ...}, ...]``), sends one
plain chat request per prompt to ``--base-url`` with at most ``--in-flight`` at a time, and prints one
JSON line, ``{"rows": answered, "seconds": wall}``. This module is both sides and needs the standard
library only: :func:`run_contender` for the bench, :func:`contender_arguments` and :func:`report` for the
contender scripts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any


def run_contender(
    python: str, script: str, base_url: str, in_flight: int, prompts: list[dict[str, str]]
) -> dict[str, Any]:
    """Run ``bench/<script>`` with ``python`` on ``prompts``; return what it printed.

    Raises:
        RuntimeError: when the script fails (with the end of its stderr).

    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prompts.json"
        path.write_text(json.dumps(prompts))
        command = [python, str(Path(__file__).with_name(script)), "--base-url", base_url,
                   "--in-flight", str(in_flight), "--prompts", str(path)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{script} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def contender_arguments(description: str) -> tuple[argparse.Namespace, list[dict[str, str]]]:
    """Parse a contender script's command line; return it and the prompts it names."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--in-flight", type=int, required=True)
    parser.add_argument("--prompts", type=Path, required=True, help='a JSON list of {"id", "prompt"}')
    arguments = parser.parse_args()
    return arguments, json.loads(arguments.prompts.read_text())


def report(rows: int, seconds: float) -> None:
    """Print a contender's result line."""
    print(json.dumps({"rows": rows, "seconds": seconds}), flush=True)
