"""Rows the tests need, written with plain SQL as the app would (owner connection, no RLS)."""

from __future__ import annotations

import uuid

import psycopg


def make_event(db: psycopg.Connection, *, owner_id: uuid.UUID | None = None, enabled: bool = True,
               name: str = "test event") -> uuid.UUID:
    """An event with its owner registered as organiser."""
    owner_id = owner_id or uuid.uuid4()
    event_id = db.execute(
        "insert into events (owner_id, name, face_recognition_enabled) values (%s, %s, %s) returning id",
        (owner_id, name, enabled)).fetchone()["id"]
    add_member(db, event_id, owner_id, "organiser")
    return event_id


def add_member(db: psycopg.Connection, event_id: uuid.UUID, user_id: uuid.UUID | None = None,
               role: str = "member") -> uuid.UUID:
    user_id = user_id or uuid.uuid4()
    db.execute("insert into event_members (event_id, user_id, role) values (%s, %s, %s)",
               (event_id, user_id, role))
    return user_id


def make_media(db: psycopg.Connection, event_id: uuid.UUID, storage_path: str | None = None,
               uploaded_by: uuid.UUID | None = None) -> uuid.UUID:
    return db.execute(
        "insert into media (event_id, storage_path, uploaded_by) values (%s, %s, %s) returning id",
        (event_id, storage_path or f"events/{event_id}/{uuid.uuid4().hex}.jpg", uploaded_by)).fetchone()["id"]


def let_members_insert_media(db: psycopg.Connection) -> None:
    """The app's own upload rule on Supabase: members insert media into their events, as ``authenticated``.

    Where facecluster created ``media`` it is read-only for members; an app that owns the table
    grants inserts with a policy like this one (README, "An app that already has ...").
    """
    db.execute("grant insert on table media to authenticated")
    db.execute("create policy media_member_insert on media for insert to authenticated"
               " with check (public.is_event_member(event_id) and uploaded_by = auth.uid())")
