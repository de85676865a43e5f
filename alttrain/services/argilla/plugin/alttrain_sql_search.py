"""A search engine for argilla-server that answers from Argilla's own SQL tables (no Elasticsearch).

argilla-server keeps every record, response, suggestion and metadata value in its database and mirrors
them into Elasticsearch/OpenSearch for search. This backend skips the mirror: the index calls do
nothing (the database already holds the data) and search, filters, sorting, progress and metadata
metrics are SQL queries on the server's own tables, through its own session factory. JSON values are
read with ``json_extract``, so the database is SQLite (what ``alttrain review serve`` runs).

It runs inside the argilla-server venv, not inside alttrain's: ``alttrain review serve`` puts this
folder on the server's ``PYTHONPATH`` and starts the server as ``python -m alttrain_sql_search ...``,
which registers the engine as ``alttrain_sql`` (selected by ``ARGILLA_SEARCH_ENGINE``) and then hands
over to argilla-server's own command line.

Text queries match every whitespace-separated term (or double-quoted phrase) case-insensitively as a
substring of some text field (the AND semantics of Elasticsearch's ``simple_query_string``), without
relevance scores. Records come back in insertion order unless a sort is given. Vector similarity
search needs a vector index and is refused with a clear error.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

from argilla_server.database import AsyncSessionLocal
from argilla_server.enums import MetadataPropertyType, ResponseStatusFilter, SimilarityOrder, SortOrder
from argilla_server.errors.future import UnprocessableEntityError
from argilla_server.models import (
    Dataset,
    Field,
    MetadataProperty,
    Question,
    Record,
    Response,
    Suggestion,
    User,
    VectorSettings,
)
from argilla_server.search_engine.base import (
    AndFilter,
    Filter,
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataFilterScope,
    MetadataMetrics,
    Order,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SearchEngine,
    SearchResponseItem,
    SearchResponses,
    SuggestionFilterScope,
    TermsFilter,
    TermsMetrics,
    TextQuery,
)
from sqlalchemy import Float, String, and_, cast, exists, false, func, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

ENGINE_NAME = "alttrain_sql"
_TERM_RE = re.compile(r'"([^"]+)"|(\S+)')
_RECORD_COLUMNS = {
    "id": Record.id,
    "external_id": Record.external_id,
    "status": Record.status,
    "inserted_at": Record.inserted_at,
    "updated_at": Record.updated_at,
}


def _json_at(column: Any, *path: str) -> Any:
    """The SQL value at ``path`` inside a JSON column (the whole value when no path is given)."""
    return func.json_extract(column, "$" + "".join(f'."{key}"' for key in path))


def _json_terms(value: Any, values: list[str]) -> ColumnElement[bool]:
    """A JSON value (from :func:`_json_at`) equal to one of ``values``, or a JSON list holding one."""
    text = cast(value, String)
    in_list = [and_(text.like("[%"), text.contains(json.dumps(v), autoescape=True)) for v in values]
    return or_(text.in_(values), *in_list)


def _range(expression: Any, ge: float | str | None, le: float | str | None) -> ColumnElement[bool]:
    """``ge <= expression <= le`` with either bound optional."""
    clauses = []
    if ge is not None:
        clauses.append(expression >= ge)
    if le is not None:
        clauses.append(expression <= le)
    return and_(true(), *clauses)


def _condition(value: Any, rule: TermsFilter | RangeFilter) -> ColumnElement[bool]:
    """The terms or range condition of ``rule`` on a JSON value (from :func:`_json_at`)."""
    if isinstance(rule, TermsFilter):
        return _json_terms(value, list(rule.values))
    return _range(cast(value, Float), rule.ge, rule.le)


def _question_id(dataset_id: Any, name: str) -> Any:
    """Scalar subquery: the id of the dataset's question called ``name``."""
    return select(Question.id).where(Question.dataset_id == dataset_id, Question.name == name).scalar_subquery()


def _user_responses(user: User | None) -> ColumnElement[bool]:
    """Responses of the record being filtered, of one user when ``user`` is given."""
    clauses = [Response.record_id == Record.id]
    if user is not None:
        clauses.append(Response.user_id == user.id)
    return and_(*clauses)


@SearchEngine.register(engine_name=ENGINE_NAME)
class SQLSearchEngine(SearchEngine):
    """Search, filters, sorting, progress and metrics as SQL on argilla-server's own tables."""

    @classmethod
    async def new_instance(cls) -> SQLSearchEngine:
        """A stateless engine: every call opens its own session."""
        return cls()

    async def close(self) -> None:
        """Nothing to release."""

    async def ping(self) -> bool:
        """Whether the database answers."""
        async with AsyncSessionLocal() as db:
            return (await db.execute(select(1))).scalar() == 1

    async def info(self) -> dict:
        """What ``/api/v1/status`` reports as the search engine."""
        return {"engine": ENGINE_NAME, "backend": "argilla-server database"}

    # The database is the index: argilla-server has written the rows before it calls these.
    async def create_index(self, dataset: Dataset) -> None:
        """Nothing to create."""

    async def delete_index(self, dataset: Dataset) -> None:
        """Nothing to delete (the rows go with the dataset)."""

    async def configure_metadata_property(self, dataset: Dataset, metadata_property: MetadataProperty) -> None:
        """Nothing to map."""

    async def configure_index_vectors(self, vector_settings: VectorSettings) -> None:
        """Nothing to map."""

    async def index_records(self, dataset: Dataset, records: Iterable[Record]) -> None:
        """Nothing to index."""

    async def partial_record_update(self, record: Record, **update: Any) -> None:
        """Nothing to update."""

    async def delete_records(self, dataset: Dataset, records: Iterable[Record]) -> None:
        """Nothing to delete."""

    async def update_record_response(self, response: Response) -> None:
        """Nothing to update."""

    async def delete_record_response(self, response: Response) -> None:
        """Nothing to delete."""

    async def update_record_suggestion(self, suggestion: Suggestion) -> None:
        """Nothing to update."""

    async def delete_record_suggestion(self, suggestion: Suggestion) -> None:
        """Nothing to delete."""

    async def get_dataset_progress(self, dataset: Dataset) -> dict:
        """Records by status: ``{"total": n, "pending": p, "completed": c}``."""
        if dataset.is_draft:
            return {}
        statement = select(Record.status, func.count()).where(Record.dataset_id == dataset.id).group_by(Record.status)
        async with AsyncSessionLocal() as db:
            counts = {str(status): count for status, count in (await db.execute(statement)).all()}
        return {"total": sum(counts.values()), **counts}

    async def get_dataset_user_progress(self, dataset: Dataset, user: User) -> dict:
        """One user's responses by status: ``{"total": n, "submitted": s, "draft": d, "discarded": x}``."""
        if dataset.is_draft:
            return {}
        statement = (
            select(Response.status, func.count())
            .join(Record, Record.id == Response.record_id)
            .where(Record.dataset_id == dataset.id, Response.user_id == user.id)
            .group_by(Response.status)
        )
        async with AsyncSessionLocal() as db:
            counts = {str(status): count for status, count in (await db.execute(statement)).all()}
        return {"total": sum(counts.values()), **counts}

    async def search(
        self,
        dataset: Dataset,
        query: TextQuery | str | None = None,
        filter: Filter | None = None,  # noqa: A002 (the SearchEngine signature)
        sort: list[Order] | None = None,
        offset: int = 0,
        limit: int = 100,
        user_id: Any = None,
    ) -> SearchResponses:
        """Record ids matching the text query and filters, sorted, one page at a time."""
        async with AsyncSessionLocal() as db:
            where = [Record.dataset_id == dataset.id]
            if query is not None:
                where.append(await self._text_condition(db, dataset.id, query))
            if filter is not None:
                where.append(self._filter_condition(dataset.id, filter))
            total = (await db.execute(select(func.count()).select_from(Record).where(*where))).scalar_one()
            order_by = [await self._order_expression(db, dataset.id, order) for order in sort or []]
            statement = (
                select(Record.id)
                .where(*where)
                .order_by(*order_by, Record.inserted_at.asc(), Record.id.asc())
                .offset(offset)
                .limit(limit)
            )
            ids = (await db.execute(statement)).scalars().all()
        return SearchResponses(items=[SearchResponseItem(record_id=rid, score=None) for rid in ids], total=total)

    async def similarity_search(
        self,
        dataset: Dataset,
        vector_settings: VectorSettings,
        value: list[float] | None = None,
        record: Record | None = None,
        query: TextQuery | str | None = None,
        filter: Filter | None = None,  # noqa: A002 (the SearchEngine signature)
        max_results: int = 100,
        order: SimilarityOrder = SimilarityOrder.most_similar,
        threshold: float | None = None,
    ) -> SearchResponses:
        """Refused: similarity search needs a vector index (Elasticsearch or OpenSearch)."""
        raise UnprocessableEntityError(
            f"the {ENGINE_NAME!r} search engine has no vector index: similarity search needs Elasticsearch "
            "or OpenSearch"
        )

    async def compute_metrics_for(self, metadata_property: MetadataProperty) -> MetadataMetrics:
        """Counts per term for terms properties; min and max for numeric ones."""
        value = _json_at(Record.metadata_, metadata_property.name)
        in_dataset = [Record.dataset_id == metadata_property.dataset_id, value.isnot(None)]
        async with AsyncSessionLocal() as db:
            if metadata_property.type == MetadataPropertyType.terms:
                term = cast(value, String)
                statement = select(term, func.count()).where(*in_dataset).group_by(term).order_by(func.count().desc())
                rows = (await db.execute(statement)).all()
                values = [TermsMetrics.TermCount(term=str(t), count=c) for t, c in rows if t is not None]
                return TermsMetrics(total=sum(v.count for v in values), values=values)
            number = cast(value, Float)
            low, high = (await db.execute(select(func.min(number), func.max(number)).where(*in_dataset))).one()
        if metadata_property.type == MetadataPropertyType.integer:
            return IntegerMetadataMetrics(
                min=None if low is None else int(low), max=None if high is None else int(high)
            )
        return FloatMetadataMetrics(min=low, max=high)

    @staticmethod
    async def _text_condition(db: AsyncSession, dataset_id: Any, query: TextQuery | str) -> ColumnElement[bool]:
        """Every term of the query, case-insensitively, in some text field (or the named one)."""
        text = TextQuery(q=query) if isinstance(query, str) else query
        rows = (await db.execute(select(Field.name, Field.settings).where(Field.dataset_id == dataset_id))).all()
        names = [name for name, settings in rows if settings.get("type") != "image"]
        if text.field:
            names = [name for name in names if name == text.field]
        terms = [quoted or bare for quoted, bare in _TERM_RE.findall(text.q)]
        if not names:
            return false()
        clauses = [
            or_(
                *(
                    func.lower(cast(_json_at(Record.fields, name), String)).contains(term.lower(), autoescape=True)
                    for name in names
                )
            )
            for term in terms
        ]
        return and_(true(), *clauses)

    def _filter_condition(self, dataset_id: Any, rule: Filter) -> ColumnElement[bool]:
        """One filter (or an ``and`` of filters) as a condition on ``Record``."""
        if isinstance(rule, AndFilter):
            return and_(true(), *(self._filter_condition(dataset_id, sub) for sub in rule.filters))
        scope = rule.scope
        if isinstance(scope, RecordFilterScope):
            column = _RECORD_COLUMNS[scope.property]
            if isinstance(rule, TermsFilter):
                return column.in_(list(rule.values))
            return _range(column, rule.ge, rule.le)
        if isinstance(scope, MetadataFilterScope):
            return _condition(_json_at(Record.metadata_, scope.metadata_property), rule)
        if isinstance(scope, SuggestionFilterScope):
            return exists().where(
                Suggestion.record_id == Record.id,
                Suggestion.question_id == _question_id(dataset_id, scope.question),
                self._suggestion_condition(scope.property, rule),
            )
        if isinstance(scope, ResponseFilterScope):
            return self._response_condition(rule)
        raise ValueError(f"cannot filter on scope {scope!r}")

    @staticmethod
    def _suggestion_condition(prop: str | None, rule: TermsFilter | RangeFilter) -> ColumnElement[bool]:
        """A condition on one suggestion's value, score, agent or type."""
        if prop in (None, "value"):
            return _condition(_json_at(Suggestion.value), rule)
        if prop == "score":
            return _condition(_json_at(Suggestion.score), rule)
        column = Suggestion.agent if prop == "agent" else Suggestion.type
        if isinstance(rule, TermsFilter):
            return column.in_(list(rule.values))
        return _range(column, rule.ge, rule.le)

    @staticmethod
    def _response_condition(rule: TermsFilter | RangeFilter) -> ColumnElement[bool]:
        """Records with a response matching a question value, or with responses in given statuses.

        ``pending`` means no response yet (from the scope's user when it names one), as in Argilla's
        Elasticsearch backend.
        """
        scope: ResponseFilterScope = rule.scope  # type: ignore[assignment]
        responses = _user_responses(scope.user)
        if scope.question:
            value = _json_at(Response.values, scope.question, "value")
            return exists().where(responses, _condition(value, rule))
        if scope.property != "status" or not isinstance(rule, TermsFilter):
            raise ValueError(f"cannot filter responses on {scope!r}")
        statuses = [str(v) for v in rule.values if v != ResponseStatusFilter.pending]
        clauses = []
        if len(statuses) < len(rule.values):
            clauses.append(not_(exists().where(responses)))
        if statuses:
            clauses.append(exists().where(responses, Response.status.in_(statuses)))
        return or_(false(), *clauses)

    @staticmethod
    async def _order_expression(db: AsyncSession, dataset_id: Any, order: Order) -> Any:
        """A sort key for one ``Order`` (numeric metadata sorts as numbers)."""
        scope = order.scope
        if isinstance(scope, RecordFilterScope):
            key: Any = _RECORD_COLUMNS[scope.property]
        elif isinstance(scope, MetadataFilterScope):
            kind = (
                await db.execute(
                    select(MetadataProperty.settings).where(
                        MetadataProperty.dataset_id == dataset_id, MetadataProperty.name == scope.metadata_property
                    )
                )
            ).scalar()
            value = _json_at(Record.metadata_, scope.metadata_property)
            numeric = (kind or {}).get("type") != MetadataPropertyType.terms
            key = cast(value, Float) if numeric else cast(value, String)
        elif isinstance(scope, SuggestionFilterScope):
            column = {"agent": Suggestion.agent, "type": Suggestion.type}.get(
                scope.property or "value",
                cast(_json_at(Suggestion.score if scope.property == "score" else Suggestion.value), Float),
            )
            key = (
                select(column)
                .where(
                    Suggestion.record_id == Record.id,
                    Suggestion.question_id == _question_id(dataset_id, scope.question),
                )
                .scalar_subquery()
            )
        elif isinstance(scope, ResponseFilterScope):
            column = (
                cast(_json_at(Response.values, scope.question, "value"), Float) if scope.question else Response.status
            )
            aggregate = func.avg(column) if scope.question else func.max(column)
            key = select(aggregate).where(_user_responses(scope.user)).scalar_subquery()
        else:
            raise ValueError(f"cannot sort on scope {scope!r}")
        return key.desc() if order.order == SortOrder.desc else key.asc()


def _run_cli(args: list[str]) -> None:
    """Run one argilla-server CLI command in this process, raising on failure."""
    from argilla_server.cli import app

    result = app(args, standalone_mode=False)
    if isinstance(result, int) and result != 0:
        raise SystemExit(f"argilla-server {' '.join(args[:2])} exited with {result}")


def run_local(start_args: list[str]) -> None:
    """Migrate the database, make sure the owner exists, then serve: one process pays the imports once.

    The owner comes from ``ALTTRAIN_OWNER_USERNAME``/``_PASSWORD``/``_API_KEY`` (environment, not argv,
    so the secrets stay out of process listings); the user-creation output, which echoes the key, is
    swallowed.
    """
    _run_cli(["database", "migrate"])
    owner = [
        "--username", os.environ["ALTTRAIN_OWNER_USERNAME"],
        "--password", os.environ["ALTTRAIN_OWNER_PASSWORD"],
        "--api-key", os.environ["ALTTRAIN_OWNER_API_KEY"],
        "--first-name", os.environ["ALTTRAIN_OWNER_USERNAME"],
        "--role", "owner",
    ]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        _run_cli(["database", "users", "create", *owner])
    _run_cli(["start", *start_args])


def main() -> None:
    """``local START_ARGS...`` runs :func:`run_local`; anything else is argilla-server's own CLI."""
    if sys.argv[1:2] == ["local"]:
        run_local(sys.argv[2:])
        return
    from argilla_server.cli import app

    app()


if __name__ == "__main__":
    main()
