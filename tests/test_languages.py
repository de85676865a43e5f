import polars as pl
import pytest

from alttrain.languages import CJK_SHARE, cjk_share, detect_language, frame_languages, language_expr, row_language

TEXTS = [
    ("如何制作一个简单的网页？", "zh"),
    ("解释一下 Python 的装饰器是什么", "zh"),  # a few English terms keep a Chinese request Chinese
    ("What does 你好 mean in English?", "en"),  # a Chinese word or two keep an English request English
    ("How many apples are left? 3 + 4 = 7", "en"),
    ("1234 + 5678 = ?", "en"),  # no letters at all: the default
    ("", "en"),
]


@pytest.mark.parametrize(("text", "language"), TEXTS)
def test_detection_by_the_share_of_cjk_letters(text: str, language: str) -> None:
    assert detect_language(text) == language
    assert (cjk_share(text) >= CJK_SHARE) == (language == "zh")


def test_the_column_wins_over_detection() -> None:
    assert row_language("ZH ", "How do I bake bread?") == "zh"
    assert row_language("fr", "如何制作网页？") == "fr"
    assert row_language(None, "如何制作网页？") == "zh"
    assert row_language("", "How do I bake bread?") == "en"


def test_the_column_expression_agrees_with_the_row_function() -> None:
    prompts = [text for text, _ in TEXTS] + ["How do I bake bread?", None]
    languages = [None] * len(TEXTS) + [" De", "zh"]
    schema = {"prompt": pl.String, "language": pl.String}
    frame = pl.DataFrame({"prompt": prompts, "language": languages}, schema=schema)
    expected = [row_language(language, prompt or "") for prompt, language in zip(prompts, languages, strict=True)]
    assert frame.select(language_expr()).to_series().to_list() == expected
    assert expected[-2:] == ["de", "zh"]
    assert frame_languages(frame.drop("language")) == [detect_language(p or "") for p in prompts]
    assert frame_languages(frame.drop("prompt")) == ["en"] * len(TEXTS) + ["de", "zh"]
