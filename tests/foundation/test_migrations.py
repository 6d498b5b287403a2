"""Migrations on a real PostgreSQL: apply, re-apply, the guide's checks, and bad input."""

from __future__ import annotations

import re
import uuid

import pytest

from shared.db.connection import connect
from shared.db.migrate import MigrationError, list_migrations, migrate
from tests.pg import database_url_for

FACE_TABLES = ("faces", "face_persons", "media_tags", "ml_jobs")


@pytest.fixture
def empty_database_url(postgres_server_url: str):
    name = f"empty_{uuid.uuid4().hex[:12]}"
    with connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"create database {name}")
    yield database_url_for(postgres_server_url, name)
    with connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")


def _schema_snapshot(url: str) -> list[tuple]:
    with connect(url) as conn:
        rows = conn.execute(
            "select table_name, column_name, data_type, is_nullable, column_default"
            " from information_schema.columns where table_schema = 'public' order by 1, 2").fetchall()
        indexes = conn.execute("select indexname, indexdef from pg_indexes where schemaname = 'public' order by 1")
        policies = conn.execute("select tablename, policyname, cmd, qual from pg_policies order by 1, 2")
        return [tuple(r.values()) for r in [*rows, *indexes.fetchall(), *policies.fetchall()]]


def test_migrations_apply_to_an_empty_database_and_reapplying_changes_nothing(empty_database_url: str) -> None:
    applied = migrate(empty_database_url)
    assert applied == [m.version for m in list_migrations()]
    before = _schema_snapshot(empty_database_url)

    assert migrate(empty_database_url) == []
    assert _schema_snapshot(empty_database_url) == before
    with connect(empty_database_url) as conn:
        recorded = [r["version"] for r in conn.execute("select version from schema_migrations order by 1")]
    assert recorded == applied


def test_guide_verification_queries(db) -> None:
    tables = {r["table_name"] for r in db.execute(
        "select table_name from information_schema.tables where table_schema = 'public'"
        " and table_name in ('faces', 'face_persons', 'media_tags', 'ml_jobs')")}
    assert tables == set(FACE_TABLES)

    index = db.execute("select indexdef from pg_indexes where indexname = 'idx_faces_embedding'").fetchone()
    assert index is not None and "hnsw" in index["indexdef"]

    rls = {r["tablename"]: r["rowsecurity"] for r in db.execute(
        "select tablename, rowsecurity from pg_tables where schemaname = 'public'"
        " and tablename in ('faces', 'face_persons', 'media_tags', 'ml_jobs')")}
    assert rls == dict.fromkeys(FACE_TABLES, True)

    column = db.execute("select data_type, column_default from information_schema.columns"
                        " where table_name = 'events' and column_name = 'face_recognition_enabled'").fetchone()
    assert column == {"data_type": "boolean", "column_default": "false"}


EMBEDDING_INDEXES = {128: ("yunet-dlib", "idx_faces_embedding"), 256: ("yunet-reid256", "idx_faces_embedding_256"),
                     512: ("buffalo_l", "idx_faces_embedding_512")}


@pytest.mark.parametrize("dim", sorted(EMBEDDING_INDEXES))
def test_embeddings_of_several_models_coexist_and_each_dimension_has_its_index(db, dim: int) -> None:
    from tests.factories import make_event, make_media

    event = make_event(db)
    media = make_media(db, event)
    models = [(model, size) for size, (model, _) in EMBEDDING_INDEXES.items()] + [("yunet-reid256-int8", 256)]
    for model, size in models:
        for i in range(3):
            vector = [0.0] * size
            vector[i] = 1.0
            db.execute("insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding)"
                       " values (%s, %s, %s, %s, %s, 0.9, 0.8, %s)",
                       (event, media, model, [0, 0, 10, 10], [1.0] * 10, str(vector)))
    model, index = EMBEDDING_INDEXES[dim]
    db.execute("set enable_seqscan = off")
    query = (f"select model from faces where model = %s and vector_dims(embedding) = {dim}"
             f" order by embedding::vector({dim}) <=> %s::vector({dim}) limit 1")
    probe = str([1.0] + [0.0] * (dim - 1))
    plan = "\n".join(r["QUERY PLAN"] for r in db.execute("explain " + query, (model, probe)))
    assert re.search(rf"Index Scan using {index}\b", plan), plan
    assert db.execute(query, (model, probe)).fetchone()["model"] == model


def test_migrating_a_database_without_pgvector_fails_with_a_clear_message(plain_postgres_url: str) -> None:
    """Debian's PostgreSQL 15 has no pgvector package: the first migration must say so, and roll back."""
    with pytest.raises(MigrationError, match=r"^20261124000100_app_tables\.sql: pgvector is not available"):
        migrate(plain_postgres_url)
    with connect(plain_postgres_url) as conn:
        assert conn.execute("select to_regclass('public.faces') as t").fetchone()["t"] is None
        assert conn.execute("select count(*) as n from schema_migrations").fetchone()["n"] == 0


def test_cli_migrate_is_a_no_op_when_up_to_date(database_url: str, capsys) -> None:
    from shared.cli import main

    assert main(["db", "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
