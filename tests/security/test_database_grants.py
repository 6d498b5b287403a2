"""Every table and function the migrations create, checked as a whole: a future migration that
forgets row-level security or leaves a grant to anon fails here, not in production."""

from __future__ import annotations

BACKEND_ONLY = {"api_rate_limits", "media_awaiting_detection", "schema_migrations"}


def test_every_table_has_row_level_security_and_policies_unless_backend_only(db) -> None:
    tables = {r["relname"]: r for r in db.execute(
        "select c.relname, c.relrowsecurity, (select count(*) from pg_policy p where p.polrelid = c.oid) as policies"
        " from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'")}
    assert {"events", "event_members", "media", "faces", "schema_migrations"} <= set(tables)
    assert [name for name, t in tables.items() if not t["relrowsecurity"]] == []
    assert sorted(name for name, t in tables.items() if t["policies"] == 0) == sorted(BACKEND_ONLY)


def test_anon_has_no_privilege_on_anything_of_ours(db) -> None:
    granted = db.execute(
        """
        select c.relname as name from pg_class c
         where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'S')
           and (has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate, references, trigger')
                or c.relkind = 'S' and has_sequence_privilege('anon', c.oid, 'usage, select, update')
                or has_any_column_privilege('anon', c.oid, 'select, insert, update, references'))
        union all
        select p.oid::regprocedure::text from pg_proc p
         where p.pronamespace = 'public'::regnamespace and has_function_privilege('anon', p.oid, 'execute')
        """).fetchall()
    assert granted == []


def test_authenticated_gets_no_privilege_that_bypasses_or_outlives_the_policies(db) -> None:
    granted = db.execute(
        """
        select c.relname from pg_class c
         where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
           and (has_table_privilege('authenticated', c.oid, 'truncate, references, trigger')
                or c.relname = any(%s) and has_any_column_privilege('authenticated', c.oid,
                                                                     'select, insert, update, references'))
        """, (sorted(BACKEND_ONLY),)).fetchall()
    assert granted == []
    definers = db.execute(
        """
        select p.oid::regprocedure::text as f from pg_proc p
         where p.pronamespace = 'public'::regnamespace and p.prosecdef
           and not exists (select 1 from unnest(p.proconfig) c where c like 'search_path=%%')
        """).fetchall()
    assert definers == []  # every SECURITY DEFINER function pins its search_path
