"""The rouge_l scorers against rouge-score's RougeScorer called directly, in English and Chinese."""

import pytest
from rouge_score import rouge_scorer

from alttrain.evaluation.scorers.registry import SCORERS
from alttrain.evaluation.scorers.rouge import CjkCharTokenizer

ENGLISH_REFERENCE = "A water park and hotel planned for Bewdley will create up to 500 jobs, its owners say."
ENGLISH = [
    "Owners of a safari park in Bewdley say a planned water park and hotel will create up to 500 jobs.",
    "Owners of a safari park say a water park will bring jobs.\n\nThis summary is one sentence long.",
    "The council met on Tuesday to discuss bins.",
    "Summary: \\boxed{A water park will create 500 jobs}",
]
CHINESE_REFERENCE = "农业生产中最主要的基本生产资料是土地。"
CHINESE = ["土地是农业生产最基本的生产资料。", "今天天气很好，我们去公园。", "土地 (land) 是 2024 年的重点。"]


@pytest.mark.parametrize("summary", ENGLISH)
def test_rouge_l_equals_rouge_score(summary: str) -> None:
    expected = rouge_scorer.RougeScorer(["rougeL"]).score(ENGLISH_REFERENCE, summary)["rougeL"].fmeasure
    score = SCORERS["rouge_l"].score(summary, [ENGLISH_REFERENCE])
    assert score.correct is None and score.extracted == summary.strip()
    assert score.score == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("summary", CHINESE)
def test_rouge_l_zh_equals_rouge_score_with_the_character_tokenizer(summary: str) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=CjkCharTokenizer())
    expected = scorer.score(CHINESE_REFERENCE, summary)["rougeL"].fmeasure
    assert SCORERS["rouge_l_zh"].score(summary, [CHINESE_REFERENCE]).score == pytest.approx(expected, abs=1e-12)


def test_the_default_tokenizer_would_score_chinese_zero_and_the_character_one_does_not() -> None:
    assert SCORERS["rouge_l"].score(CHINESE[0], [CHINESE_REFERENCE]).score == 0.0
    # LCS of 土地是农业生产最基本的生产资料 (15 characters) and 农业生产中最主要的基本生产资料是土地 (18):
    # 农业生产最基本生产资料 (11)
    assert SCORERS["rouge_l_zh"].score(CHINESE[0], [CHINESE_REFERENCE]).score == pytest.approx(2 * 11 / (15 + 18))


def test_the_character_tokenizer() -> None:
    tokens = CjkCharTokenizer().tokenize("土地 (Land) 是2024年的，重点!")
    assert tokens == ["土", "地", "land", "是", "2024", "年", "的", "重", "点"]


def test_the_best_reference_counts_and_an_empty_answer_scores_zero() -> None:
    references = ["The council met to discuss bins.", ENGLISH_REFERENCE]
    expected = rouge_scorer.RougeScorer(["rougeL"]).score_multi(references, ENGLISH[0])["rougeL"].fmeasure
    assert SCORERS["rouge_l"].score(ENGLISH[0], references).score == pytest.approx(expected)
    empty = SCORERS["rouge_l"].score("  ", [ENGLISH_REFERENCE])
    assert (empty.correct, empty.score, empty.extracted) == (None, 0.0, None)
