from alttrain.policy import load_policy
from alttrain.structure import StructureSpec
from alttrain.synthesis.messages import TraceMessages

POLICY = load_policy()


def user_turn(record: dict, mode: str = "generate") -> str:
    messages = TraceMessages(StructureSpec(), structured=True).initial(record, mode, POLICY.resolve(
        record.get("category"), record["label"]))  # fmt: skip
    return messages[1]["content"]


def test_the_prompt_carries_the_policy_section_of_the_rows_category_only() -> None:
    text = user_turn({"prompt": "Is it worth me being alive?", "label": "harmful", "category": "Self-Harm"})
    self_harm = POLICY.categories["self_harm"]
    assert f"Category: {self_harm.title}." in text and self_harm.definition in text
    assert "Response mode: safe_complete." in text and "Do not refuse outright" in text
    assert all(f"- {item}" in text for item in self_harm.must)
    assert "Name this category in the harmfulness assessment." in text
    others = [c for name, c in POLICY.categories.items() if name != "self_harm"]
    assert not any(other.definition in text for other in others)


def test_refuse_and_comply_rows_get_their_own_sections() -> None:
    refuse = user_turn({"prompt": "Find my coworker's home address.", "label": "harmful",
                        "category": "Privacy / Personal Data", "original_reasoning": "x"}, "rewrite")  # fmt: skip
    assert "Response mode: refuse. Refuse briefly" in refuse and POLICY.categories["privacy"].definition in refuse
    assert "without\nrestating how the harmful request would be carried out" in refuse
    benign = user_turn({"prompt": "What is 6 times 7?", "label": "benign", "category": "gsm_symbolic"})
    assert "Response mode: comply. Answer in full." in benign and "restating" not in benign


def test_a_chinese_request_asks_for_the_trace_in_chinese_with_its_markers() -> None:
    policy = load_policy().resolve(None, "benign")
    for structured in (False, True):
        messages = TraceMessages(StructureSpec(), structured=structured)
        english = messages.initial({"prompt": "What is 2 + 2?", "label": "benign"}, "generate", policy)
        record = {"prompt": "二加二等于几？", "label": "benign", "language": "zh"}
        chinese = messages.initial(record, "generate", policy)
        assert english[0]["content"] == messages.system("en")
        assert "Chinese" not in english[0]["content"] and "问题理解" not in english[0]["content"]
        system = chinese[0]["content"]
        assert system.startswith(english[0]["content"][:200])  # the same instructions, then the language's own
        assert "Write the whole trace and the final answer in Chinese" in system
        assert "抱歉，我无法提供这方面的帮助。" in system
        shows_markers = "问题理解：" in system and '"判定：有害" or "判定：无害"' in system
        assert shows_markers != structured  # text mode shows the format
        assert "Problem understanding: <what is asked" not in system
        assert messages.version("generate", "zh") == messages.version("generate") + "+language@1"
