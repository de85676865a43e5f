"""Wrapped requests: the request a jailbreak wrapper carries, so a trace quotes it and reads its area from it.

A short request inside a long template (a role-play, a "two responses" frame, a prefix injection) is what
the prompt asks; the wrapper is only how it asks. :func:`underlying_request` returns the request:

1. the source's own, when the record carries one (its ``request`` field: WildJailbreak's ``vanilla`` beside
   its ``adversarial`` prompt, mapped with ``columns: {request: vanilla}``);
2. else, for a prompt that reads as wrapped (at least ``WRAPPED_MIN_WORDS`` words holding two wrapper cues such
   as "stay in character" or "ignore the instructions", or one and a request marker such as "The message is:"
   or a closing question):
   a. the text after the last request marker ("the request/question/message/prompt/task is:",
      "Request:", "the following ...:"), up to a sentence that speaks to the assistant ("Remember to stay
      in character", "End of request", "Please write the full answer": a cue after a sentence end, or
      a capitalised one, since requests often end without a full stop);
   b. else the longest quoted span of at least ``QUOTE_MIN_WORDS`` words;
   c. else the last question, or the last sentence without a wrapper cue;
3. else the prompt itself: a plain request (short prompts and prompts without cues, such as a long math
   word problem, are never cut).

:func:`quote_problem` is synthesis's check of a teacher's understanding: a quote in it must be words of the
prompt (a quote the template teacher shortened with " …" counts by what it kept), and the understanding of a
wrapped prompt must quote the request.
"""

from __future__ import annotations

import re

WRAPPED_MIN_WORDS = 40  # shorter prompts are taken as asked
QUOTE_MIN_WORDS = 3  # a quoted span shorter than this (unless the prompt is) does not name a request
ELLIPSIS = "…"

_CUES = (
    r"from now on",
    r"you are now",
    r"(?:stay|staying|remain) in character",
    r"ignore (?:all |any )?(?:the |your |my )?(?:previous |prior |above )?(?:instructions|rules|guidelines)",
    r"developer (?:test )?mode",
    r"two (?:responses|answers)",
    r"role-?play",
    r"pretend (?:to be|you are)",
    r"act as",
    r"\bhypothetical",
    r"\b(?:novel|chapter|screenplay|fiction(?:al)?)\b",
    r"(?:start|begin) (?:your|every|each|the) (?:\w+ )?(?:reply|response|answer)",
    r"sure,? here (?:is|it is)",
    r"certainly,? here",
    r"(?:without|no|never) (?:any )?(?:disclaimers|warnings|hedg|restrictions|rules|filters)",
    r"not filtered",
    r"(?:research|academic|educational) (?:paper|purposes?)",
    r"\bdo not apologi[sz]e",
    r"\bdisclaimer",
    r"never (?:refuse|warns?)",
)
WRAPPER_CUE = re.compile("|".join(_CUES), re.IGNORECASE)
REQUEST_MARKER = re.compile(
    r"(?:\b(?:request|question|message|prompt|query|task|instruction)s?(?: (?:is|reads|was))?"
    r"|\b(?:asks|asking|asked|says)"
    r"|\bthe following\b[^.:?!\"]{0,100})\s*:\s+",
    re.IGNORECASE,
)
# sentences after the request that speak to the assistant (the wrapper resuming)
_ASSISTANT_CUE = re.compile(
    r"\bremember\b|in character|disclaimer|end of (?:the )?(?:request|message|question)"
    r"|\bplease (?:write|answer|respond|reply|give)|\b(?:do not|don't|never) (?:add|break|mention|refuse|warn)"
    r"|(?:start|begin) (?:your|every|each|the) (?:\w+ )?(?:reply|response|answer)|answer (?:in detail|at length|fully)"
    r"|without breaking|evaluation team|no matter what|the paper|\bwrite the (?:\S+ ){0,3}(?:reply|response|answer)",
    re.IGNORECASE,
)
_QUOTE_MARK = re.compile(r"[\"“”]")
_MOST_MARKS = 40  # quote marks of a text looked at (every pair of them is a candidate span)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def underlying_request(prompt: str, request: str | None = None) -> str:
    """The request the prompt makes: ``request`` (the source's) when given, else extracted (module docstring)."""
    if request is not None and request.strip():
        return " ".join(request.split())
    flat = " ".join(prompt.split())
    if not looks_wrapped(flat):
        return flat
    return _after_marker(flat) or _longest_quote(flat) or _last_request_sentence(flat) or flat


def looks_wrapped(prompt: str) -> bool:
    """Whether a prompt is long and holds two wrapper cues, or one and a request marker or a closing question.

    Only such prompts are cut.
    """
    if len(prompt.split()) < WRAPPED_MIN_WORDS:
        return False
    cues = {match.group(0).casefold() for match in WRAPPER_CUE.finditer(prompt)}
    ends_asking = prompt.rstrip().endswith("?")
    return len(cues) >= 2 or (len(cues) == 1 and (ends_asking or REQUEST_MARKER.search(prompt) is not None))


def _after_marker(prompt: str) -> str | None:
    """The text after the last request marker that leaves a request, up to where the wrapper resumes."""
    for marker in reversed(list(REQUEST_MARKER.finditer(prompt))):
        rest = prompt[marker.end() :]
        cues = (cue.start() for cue in _ASSISTANT_CUE.finditer(rest) if _opens_sentence(rest, cue.start()))
        resumes = next(cues, None)
        text = rest[:resumes].strip().strip("'\"“”").strip()
        if len(text.split()) >= 2:
            return text
    return None


def _opens_sentence(text: str, at: int) -> bool:
    """Whether a cue at ``at`` opens a sentence: after a sentence end, or a capital after the request's last word."""
    before = text[:at].rstrip()
    return at > 0 and (before.endswith((".", "!", "?", '"', "”")) or text[at].isupper())


def _longest_quote(prompt: str) -> str | None:
    """The quoted span (inner quotes paired) of enough words with the fewest wrapper cues; the longest of those."""
    marks = [match.start() for match in _QUOTE_MARK.finditer(prompt)][:_MOST_MARKS]
    spans = [
        prompt[start + 1 : end].strip()
        for i, start in enumerate(marks)
        for j, end in enumerate(marks[i + 1 :], start=i + 1)
        if (j - i) % 2 == 1
    ]
    spans = [span for span in spans if len(span.split()) >= QUOTE_MIN_WORDS]
    return min(spans, key=lambda span: (len(WRAPPER_CUE.findall(span)), -len(span))) if spans else None


def _last_request_sentence(prompt: str) -> str | None:
    """The last question, else the last sentence without a wrapper or assistant cue."""
    sentences = [s for s in _SENTENCE_END.split(prompt) if not (WRAPPER_CUE.search(s) or _ASSISTANT_CUE.search(s))]
    questions = [s for s in sentences if s.endswith("?")]
    return (questions or sentences or [None])[-1]


def normalised_words(text: str) -> str:
    """Lower-case words joined by single spaces: how a quote and a prompt are compared."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def quoted_spans(text: str) -> list[str]:
    """Every span between two double quotes (straight or curly) of ``text``, a closing " …" removed.

    Every pair of quote marks counts (a quoted request may hold quotes of its own), of the first ``_MOST_MARKS``.
    """
    marks = [match.start() for match in _QUOTE_MARK.finditer(text)][:_MOST_MARKS]
    spans = (text[start + 1 : end].strip() for i, start in enumerate(marks) for end in marks[i + 1 :])
    return [span.removesuffix(ELLIPSIS).strip() for span in spans]


def quote_problem(understanding: str, prompt: str, request: str | None = None) -> str | None:
    """Why an understanding fails to name the request by quoting the prompt (or the source's ``request``), or None.

    A quote (a span between double quotes) counts when its words, case and punctuation aside, are words of
    the prompt (or of ``request``) in order, and it has at least ``QUOTE_MIN_WORDS`` words (all of a shorter
    prompt's). An understanding with quotes must have one that counts (an invented quote is a complaint); one
    without any is a complaint only for a prompt that :func:`looks_wrapped` (a plain request may be restated).
    """
    asked = normalised_words(prompt)
    least = max(min(QUOTE_MIN_WORDS, len(asked.split())), 1)
    spans = [span for span in quoted_spans(understanding) if len(normalised_words(span).split()) >= least]
    sources = [f" {asked} ", f" {normalised_words(request or '')} "]
    if any(f" {normalised_words(span)} " in source for span in spans for source in sources):
        return None
    if spans:
        return (
            f"the problem understanding quotes {spans[0][:80]!r}, which is not in the request: quote the user's "
            "words exactly (the request itself, not a paraphrase or the framing around it)"
        )
    if looks_wrapped(" ".join(prompt.split())):
        return (
            "the problem understanding quotes no request: this prompt wraps its request in a role-play or other "
            "framing; name what is asked by quoting the user's words for it exactly, in double quotes"
        )
    return None
