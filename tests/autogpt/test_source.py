"""EXECLENS_AUTOGPT_DATABASE_URL in AutoGPT's own DATABASE_URL form."""

import pytest

from execlens.autogpt.schema_check import REQUIRED_COLUMNS, missing_columns
from execlens.source_url import parse_source_url


def test_the_schema_parameter_is_honoured_and_prisma_parameters_are_dropped():
    source = parse_source_url(
        "postgresql://agpt:s3cret@db.internal:5432/postgres?schema=platform&connection_limit=5"
    )
    assert source.schema == "platform"
    assert source.url.drivername == "postgresql+asyncpg"
    assert dict(source.url.query) == {}
    assert (source.url.host, source.url.port, source.url.database) == (
        "db.internal",
        5432,
        "postgres",
    )
    assert "s3cret" not in source.label and "platform" in source.label


def test_without_a_schema_parameter_the_tables_are_in_public():
    assert parse_source_url("postgres://u:p@localhost/autogpt").schema == "public"


def test_sslmode_is_passed_on_to_the_driver():
    source = parse_source_url("postgresql://u:p@h/db?schema=platform&sslmode=require")
    assert dict(source.url.query) == {"ssl": "require"}


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://u:s3cret@h/db", "postgresql://"),
        ("not a url", "not a database URL"),
        ("postgresql://u:s3cret@h/db?schema=plat;form", "schema="),
        ("postgresql://u:s3cret@h", "names no database"),
    ],
)
def test_a_bad_url_is_refused_with_what_to_fix_and_without_the_password(url, says):
    with pytest.raises(ValueError) as caught:
        parse_source_url(url)
    assert says in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_missing_tables_and_columns_are_each_named():
    present = {(t, c) for t, columns in REQUIRED_COLUMNS.items() for c in columns}
    present -= {("AgentGraphExecution", "isDeleted")}
    present = {(t, c) for t, c in present if t != "AgentNodeLink"}
    assert missing_columns(present) == [
        'table "AgentNodeLink"',
        'column "AgentGraphExecution"."isDeleted"',
    ]
