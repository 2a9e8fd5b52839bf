-- The two roles of a production PMS database. Run once, as a superuser, connected to the
-- PMS database (it is idempotent: run it again after adding tables outside migrations):
--
--     psql -h db.fund.example -U postgres -d pms -f deploy/postgres/roles.sql
--     psql -h db.fund.example -U postgres -c "ALTER ROLE pms_owner PASSWORD '…'"
--     psql -h db.fund.example -U postgres -c "ALTER ROLE pms_app PASSWORD '…'"
--
-- pms_owner owns the schema and every table: migrations (`manage.py migrate`), `backup`
-- and `restore` connect as it. `restore` builds the backup in a new database beside the
-- live one (CREATEDB) and, with --terminate-sessions, ends the servers' sessions at the
-- swap (a member of pms_app may end pms_app's sessions, and no one else's). pms_app is what the web servers and the cluster connect as
-- (DATABASE_URL): it reads and writes rows, and cannot TRUNCATE, ALTER or DROP a table,
-- nor disable the triggers that keep the trade ledger and the audit trail append-only.
-- `manage.py verify_system` warns when the servers connect as the tables' owner.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pms_owner') THEN
        CREATE ROLE pms_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pms_app') THEN
        CREATE ROLE pms_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
ALTER ROLE pms_owner CREATEDB;
GRANT pms_app TO pms_owner;

DO $$
DECLARE
    item record;
BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO pms_owner', current_database());
    ALTER SCHEMA public OWNER TO pms_owner;
    FOR item IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER TABLE public.%I OWNER TO pms_owner', item.tablename);
    END LOOP;
    FOR item IN
        SELECT sequencename FROM pg_sequences
        WHERE schemaname = 'public' AND NOT EXISTS (
            SELECT FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
            WHERE s.relname = sequencename AND d.deptype IN ('a', 'i')
        )
    LOOP
        EXECUTE format('ALTER SEQUENCE public.%I OWNER TO pms_owner', item.sequencename);
    END LOOP;
    FOR item IN
        SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'
    LOOP
        EXECUTE format('ALTER FUNCTION public.%I(%s) OWNER TO pms_owner', item.proname, item.args);
    END LOOP;
END
$$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO pms_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM pms_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO pms_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO pms_app;
ALTER DEFAULT PRIVILEGES FOR ROLE pms_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO pms_app;
ALTER DEFAULT PRIVILEGES FOR ROLE pms_owner IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO pms_app;
