from __future__ import annotations

import pytest
from pydantic import ValidationError

from alttrain.curation.filters.base import DROP, FilterContext
from alttrain.curation.filters.language import LanguageFilter
from alttrain.structure import TraceFields
from curation.rows import BENIGN_FIELDS, frame, row

FRENCH = "Combien de pommes reste-t-il dans le panier après que Marie en a mangé trois ce matin ?"
GERMAN = "Wie viele Äpfel bleiben im Korb, nachdem Maria heute Morgen drei davon gegessen hat?"


def answering(text: str) -> TraceFields:
    return TraceFields(**{**BENIGN_FIELDS.__dict__, "answer": text})


def rows() -> list[dict]:
    return [
        row("How many apples are left in the basket after Mary ate three of them this morning?"),
        row(FRENCH, fields=answering("Il reste sept pommes dans le panier, car dix moins trois font sept.")),
        row(GERMAN, fields=answering("Es bleiben sieben Äpfel im Korb, denn zehn minus drei sind sieben.")),
        row("12 + 30 = ?", fields=answering("42")),
    ]


def test_english_by_default(context: FilterContext) -> None:
    out = LanguageFilter().apply(frame(rows()), context)
    got = dict(out.select("prompt", DROP).iter_rows())
    assert got[FRENCH] == "language:fr"
    assert got[GERMAN] == "language:de"
    assert got["How many apples are left in the basket after Mary ate three of them this morning?"] is None
    assert out.height == 4


def test_allowed_languages_and_undetected_texts(context: FilterContext) -> None:
    out = LanguageFilter(allowed=["EN", "fr"], keep_undetected=False).apply(frame(rows()), context)
    got = dict(out.select("prompt", DROP).iter_rows())
    assert got[FRENCH] is None and got[GERMAN] == "language:de"
    assert got["12 + 30 = ?"] == "language:unknown"


def test_candidates_narrow_the_detector(context: FilterContext) -> None:
    out = LanguageFilter(candidates=["en", "fr"], high_accuracy=True).apply(frame(rows()[:2]), context)
    assert sorted(out["language"].to_list()) == ["en", "fr"]


def test_unknown_codes_are_config_errors() -> None:
    with pytest.raises(ValidationError, match="unknown ISO 639-1 language code 'xx'"):
        LanguageFilter(allowed=["xx"])


CHINESE = "篮子里有十个苹果，玛丽今天早上吃了三个，篮子里还剩几个苹果？"


def test_chinese_is_detected_and_allowed_when_configured(context: FilterContext) -> None:
    chinese = row(CHINESE, fields=answering("篮子里还剩七个苹果，因为十减三等于七。"))
    data = frame([chinese, *rows()[:2]])
    english_only = dict(LanguageFilter().apply(data, context).select("prompt", DROP).iter_rows())
    assert english_only[CHINESE] == "language:zh"
    bilingual = dict(LanguageFilter(allowed=["en", "zh"]).apply(data, context).select("prompt", DROP).iter_rows())
    assert bilingual[CHINESE] is None and bilingual[FRENCH] == "language:fr"
