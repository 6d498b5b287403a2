"""The security migrations on databases that already hold rows or app tables (issue 13)."""

from __future__ import annotations

import pytest

import shared.db.migrate as migrate_module
from shared.db.connection import connect
from shared.db.migrate import MigrationError, migrate
from tests.factories import add_member, make_event, make_media
from tests.foundation.test_migrations import empty_database_url  # noqa: F401 (a fixture)

FIRST_SECURITY_MIGRATION = "20261129003100"


def _migrate_up_to_before_security(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema as deployed before issue 13, so rows can be written the way the API roles could."""
    earlier = [m for m in migrate_module.list_migrations() if m.version < FIRST_SECURITY_MIGRATION]
    with monkeypatch.context() as patch:
        patch.setattr(migrate_module, "list_migrations", lambda: earlier)
        migrate(url)


def test_cross_event_rows_stop_the_migration_with_their_count(empty_database_url, monkeypatch) -> None:  # noqa: F811
    _migrate_up_to_before_security(empty_database_url, monkeypatch)
    with connect(empty_database_url, autocommit=True) as db:
        a, b = make_event(db), make_event(db)
        db.execute("insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding)"
                   " values (%s, %s, 'yunet-dlib', '{0,0,1,1}', '{0,0,0,0,0,0,0,0,0,0}', 0.9, 0.9, %s)",
                   (a, make_media(db, b), str([0.1] * 128)))
    with pytest.raises(MigrationError, match=r"20261129003200.*1 faces on media of another event.*Find them"):
        migrate(empty_database_url)
    with connect(empty_database_url) as db:
        assert db.execute("select count(*) as n from faces").fetchone()["n"] == 1
        versions = {r["version"] for r in db.execute("select version from schema_migrations")}
    assert "20261129003200" not in versions


def test_consistent_rows_migrate_and_tags_get_their_event(empty_database_url, monkeypatch) -> None:  # noqa: F811
    _migrate_up_to_before_security(empty_database_url, monkeypatch)
    with connect(empty_database_url, autocommit=True) as db:
        event = make_event(db)
        media, user = make_media(db, event), add_member(db, event)
        db.execute("insert into media_tags (media_id, user_id, source) values (%s, %s, 'manual')", (media, user))
    migrate(empty_database_url)
    with connect(empty_database_url) as db:
        assert db.execute("select event_id from media_tags").fetchone()["event_id"] == event


def test_app_tables_with_their_own_security_keep_their_policies_and_grants(empty_database_url) -> None:  # noqa: F811
    """An app that already has events/event_members/media with RLS decides who writes them."""
    with connect(empty_database_url, autocommit=True) as db:
        for ddl in ("create table public.events (id uuid primary key default gen_random_uuid(), owner_id uuid not null,"
                    " name text not null default '', created_at timestamptz not null default now())",
                    "create table public.event_members (event_id uuid not null references public.events (id),"
                    " user_id uuid not null, role text not null default 'member', primary key (event_id, user_id))",
                    "create table public.media (id uuid primary key default gen_random_uuid(),"
                    " event_id uuid not null references public.events (id), uploaded_by uuid,"
                    " storage_path text not null, mime_type text, created_at timestamptz not null default now())"):
            db.execute(ddl)
        for table in ("events", "event_members", "media"):
            db.execute(f"alter table public.{table} enable row level security")
            db.execute(f"create policy app_policy on public.{table} for all using (true)")
        db.execute("grant select, insert on public.media to authenticated")  # the API roles exist server-wide
    migrate(empty_database_url)
    with connect(empty_database_url) as db:
        policies = {(r["tablename"], r["policyname"]) for r in db.execute(
            "select tablename, policyname from pg_policies where tablename in ('events', 'event_members', 'media')")}
        assert policies == {(t, "app_policy") for t in ("events", "event_members", "media")}
        assert db.execute("select has_table_privilege('authenticated', 'public.media', 'insert') as g").fetchone()["g"]
        trigger = db.execute("select 1 from pg_trigger where tgname = 'events_face_recognition_switch'").fetchone()
        assert trigger is not None
