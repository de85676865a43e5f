import pytest

from alttrain.sources.mapping import split_think


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\n step one \n</think>\n\n Answer. ", ("split", "step one", "Answer.")),
        ("reasoning only closes\n</think>\nfinal", ("split", "reasoning only closes", "final")),
        ("preamble <think>r</think>a", ("split", "r", "a")),
        ("<think>r</think>", ("split", "r", None)),
        ("<think>r</think>a</think>b", ("split", "r", "a</think>b")),
        ("<think>\n\n</think>\n\nI can't help.", ("empty_think", None, "I can't help.")),
        ("Just an answer.\n", ("no_tags", None, "Just an answer.")),
        ("<think>\nstarted but cut", ("unclosed", "started but cut", None)),
        ("<think>   ", ("unclosed", None, None)),
        ("", ("empty", None, None)),
        ("  \n ", ("empty", None, None)),
        (None, ("empty", None, None)),
    ],
)
def test_split_think(text, expected) -> None:
    assert split_think(text) == expected


def test_configurable_tags_and_empty_markers() -> None:
    assert split_think("<reasoning>r</reasoning>a", "<reasoning>", "</reasoning>") == ("split", "r", "a")
    assert split_think("<think>r</think>a", "<reasoning>", "</reasoning>") == ("no_tags", None, "<think>r</think>a")
    assert split_think(" NA ", empty=frozenset({"NA"})) == ("empty", None, None)
