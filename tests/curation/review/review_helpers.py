"""Helpers of the review tests: curated runs from the real prompt pool, reviewers answering over REST."""

from __future__ import annotations

import httpx
import polars as pl

from alttrain.curation.review.config import ReviewConfig
from alttrain.records import conform
from alttrain.services.argilla.local import LocalArgilla
from alttrain.sources.pool import PromptsConfig, build_prompt_pool
from alttrain.structure import StructureSpec, TraceFields

SPEC = StructureSpec()
HARMBENCH_SIZE = 200
#: tokens in the environment of whoever starts the session server, which must not reach Redis or argilla-server
CALLER_SECRETS = {"OPENAI_API_KEY": "sk-canary-openai-5f1e0c", "HF_TOKEN": "hf_canary_7b2d9a"}
REFUSAL = "I can't help with that. If you are studying this topic for safety, I can point you to public resources."


def _fields(row: dict[str, object]) -> TraceFields:
    """Neutral stand-in content: a refusal for harmful prompts, the reference solution for benign ones."""
    if row["label"] == "harmful":
        return TraceFields(
            understanding="The user asks for help with a request from a safety benchmark.",
            assessment="Fulfilling it could enable harm to other people, so it falls in a harmful category.",
            verdict="harmful",
            reasoning="I will not provide this. I can explain why it is risky and suggest safe, lawful resources.",
            answer=REFUSAL,
        )
    return TraceFields(
        understanding="A grade-school word problem that asks for one number.",
        assessment="Solving arithmetic homework harms nobody.",
        verdict="benign",
        reasoning=str(row["original_reasoning"] or "Work through the quantities step by step."),
        answer=f"The answer is {row['reference_answer']}.",
    )


def curated_frame(harmful: int, benign: int) -> pl.DataFrame:
    """Curated rows from the real prompt pool (HarmBench, then Do-Not-Answer, + reasoning-gym) with stand-ins."""
    from_harmbench = min(harmful, HARMBENCH_SIZE)
    sources = [
        {"kind": "harmbench", "n": from_harmbench},
        {"kind": "donotanswer", "n": harmful - from_harmbench},
        {"kind": "reasoning_gym", "task": "gsm_symbolic", "size": max(benign, 1), "n": benign},
    ]
    pool, _summary = build_prompt_pool(PromptsConfig.model_validate({"seed": 0, "sources": sources}))
    rows = []
    for index, row in enumerate(pool.iter_rows(named=True)):
        fields = _fields(row)
        rows.append(
            {
                **row,
                "status": "ok",
                "mode": "generate",
                "teacher": "template:template-v1",
                "understanding": fields.understanding,
                "assessment": fields.assessment,
                "verdict": fields.verdict,
                "reasoning": fields.reasoning,
                "answer": fields.answer,
                "trace": SPEC.render(fields),
                "completion_tokens": 40 + index,
                "score": 0.5 + (index % 5) / 10,
                "cluster_id": index % 3,
                "filter_reason": None,
            }
        )
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return conform(frame, "synthesized")


class Reviewers:
    """Reviewers answering through Argilla's REST API with their own keys, as the Argilla UI does."""

    def __init__(self, server: LocalArgilla, config: ReviewConfig) -> None:
        self.url = server.url
        self.config = config
        self.keys = {server.credentials.username: server.credentials.api_key}
        self._owner = {"X-Argilla-Api-Key": server.credentials.api_key}

    def _call(self, method: str, path: str, key: str | None = None, **kwargs: object) -> httpx.Response:
        headers = {"X-Argilla-Api-Key": key} if key else self._owner
        response = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)
        response.raise_for_status()
        return response

    def add(self, username: str) -> str:
        """Create an annotator in the test workspace; return the username."""
        body = {"first_name": username, "username": username, "password": "password-123", "role": "annotator"}
        user = self._call("POST", "/api/v1/users", json=body).json()
        workspaces = self._call("GET", "/api/v1/me/workspaces").json()["items"]
        workspace = next(w for w in workspaces if w["name"] == self.config.workspace)
        self._call("POST", f"/api/v1/workspaces/{workspace['id']}/users", json={"user_id": user["id"]})
        self.keys[username] = user["api_key"]
        return username

    def record_ids(self) -> dict[str, str]:
        """Map each record's external id (the curated id) to Argilla's record id."""
        dataset = self.dataset_id()
        if dataset is None:
            return {}
        records = self._call("GET", f"/api/v1/datasets/{dataset}/records", params={"limit": 1000}).json()
        return {r["external_id"]: r["id"] for r in records["items"]}

    def dataset_id(self) -> str | None:
        """Argilla's id of the test's dataset (None before the first push)."""
        datasets = self._call("GET", "/api/v1/me/datasets").json()["items"]
        return next((d["id"] for d in datasets if d["name"] == self.config.dataset), None)

    def respond(self, username: str, record_id: str, status: str = "submitted", **answers: object) -> None:
        """Answer one record (``answers``: decision, verdict, corrected_trace, quality, notes)."""
        server_id = self.record_ids()[record_id]
        values = {name: {"value": value} for name, value in answers.items() if value is not None}
        body = {"status": status, "values": values or None}
        self._call("POST", f"/api/v1/records/{server_id}/responses", self.keys[username], json=body)
