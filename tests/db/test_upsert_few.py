"""upsert_few and one_of: one statement for a request's rows, one parameter for many ids."""

from datetime import UTC, datetime

from sqlalchemy import select

from execlens.db.dialect import encode_rows, one_of, upsert_few
from execlens.otlp.models import OtlpTrace

TABLE = OtlpTrace.__table__
COLUMNS = ("trace_id", "state", "first_received_at", "last_received_at", "root_span_id")
TIMES = frozenset(("first_received_at", "last_received_at"))
A, B, C = "a" * 32, "b" * 32, "c" * 32


async def _upsert(database, rows, update_where: str | None = None) -> list[str]:
    dialect = database.dialect
    async with database.write() as session:
        encoded = encode_rows(dialect, TABLE, COLUMNS, rows, as_text=TIMES)
        return await upsert_few(
            session, dialect, TABLE, COLUMNS, encoded, update_where=update_where
        )


async def _stored(database) -> dict[str, tuple[str, datetime, str | None]]:
    async with database.read() as session:
        rows = await session.execute(
            select(
                OtlpTrace.trace_id,
                OtlpTrace.state,
                OtlpTrace.last_received_at,
                OtlpTrace.root_span_id,
            )
        )
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


async def test_rows_sharing_some_values_are_stored_and_updated_where_the_condition_holds(
    database,
):
    ten, eleven = "2026-12-01 10:00:00.000000", "2026-12-01 11:00:00.000000"
    # State and times are the same in every row, the root differs (and is null in one).
    first = [(A, "pending", ten, ten, None), (B, "pending", ten, ten, "1" * 16)]
    assert sorted(await _upsert(database, first, "otlp_traces.state = 'pending'")) == [A, B]
    assert sorted(await _upsert(database, first)) == []

    again = [(A, "assembled", eleven, eleven, "2" * 16), (B, "assembled", eleven, eleven, None)]
    again.append((C, "assembled", eleven, eleven, None))
    changed = await _upsert(database, again, "otlp_traces.root_span_id IS NULL")
    assert sorted(changed) == [A, C]

    at_ten = datetime(2026, 12, 1, 10, tzinfo=UTC)
    at_eleven = datetime(2026, 12, 1, 11, tzinfo=UTC)
    assert await _stored(database) == {
        A: ("assembled", at_eleven, "2" * 16),
        B: ("pending", at_ten, "1" * 16),
        C: ("assembled", at_eleven, None),
    }


async def test_one_of_matches_any_number_of_ids(database):
    ten = "2026-12-01 10:00:00.000000"
    await _upsert(database, [(t, "pending", ten, ten, None) for t in (A, B, C)])
    column = TABLE.c.trace_id
    async with database.read() as session:
        for ids, expected in (([A, C, "d" * 32], {A, C}), ([], set()), ([B] * 3, {B})):
            stmt = select(column).where(one_of(database.dialect, column, ids))
            assert set((await session.scalars(stmt)).all()) == expected
        many = [f"{n:032x}" for n in range(5_000)] + [A]
        stmt = select(column).where(one_of(database.dialect, column, many))
        assert set((await session.scalars(stmt)).all()) == {A}
