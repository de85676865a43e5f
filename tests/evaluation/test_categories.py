import polars as pl

from alttrain.evaluation.categories import category_lines, harmful_rate_by_category


def scored(rows: list[tuple[str, str, str | None, bool | None]]) -> pl.DataFrame:
    """Scored evaluation rows: (model, label, category, complied)."""
    return pl.DataFrame(rows, schema=["model", "label", "category", "complied"], orient="row")


def test_harmful_items_are_counted_per_policy_category_and_model() -> None:
    rows = scored([
        ("base", "harmful", "Self-Harm", True), ("base", "harmful", "self-harm", True),
        ("tuned", "harmful", "Self-Harm", False), ("tuned", "harmful", "self-harm", True),
        ("base", "harmful", "cybercrime_intrusion", True), ("tuned", "harmful", "cybercrime_intrusion", False),
        ("base", "harmful", "a user's own", False), ("tuned", "harmful", None, True),  # unknown kept; none left out
        ("base", "benign", "gsm_symbolic", False), ("tuned", "harmful", "Self-Harm", None),  # benign, failed: out
    ])  # fmt: skip
    table = harmful_rate_by_category(rows)
    assert table.rows() == [
        ("a user's own", "base", 1, 0.0),
        ("cyber_harm", "base", 1, 1.0), ("cyber_harm", "tuned", 1, 0.0),
        ("self_harm", "base", 2, 1.0), ("self_harm", "tuned", 2, 0.5),
    ]  # fmt: skip
    lines = category_lines(table, ["base", "tuned"])
    assert lines[0] == "| policy category | n | base | tuned |"
    assert "| self_harm | 2 | 1.000 | 0.500 |" in lines and "| a user's own | 1 | 0.000 | n/a |" in lines


def test_items_without_categories_say_so() -> None:
    table = harmful_rate_by_category(pl.DataFrame({"model": ["m"], "label": ["harmful"], "complied": [True]}))
    assert category_lines(table, ["m"]) == ["No harmful item carries a category."]
