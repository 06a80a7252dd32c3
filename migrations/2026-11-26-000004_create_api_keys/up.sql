-- Tenancy: projects own events; API keys belong to one project. Keys are stored only as an HMAC
-- digest (server-side pepper) plus a display form; the secret is shown once, at creation.
CREATE TABLE projects (
    id         text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO projects (id) VALUES ('default');

CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY,
    project_id   text        NOT NULL REFERENCES projects (id),
    name         text        NOT NULL,
    digest       bytea       NOT NULL UNIQUE,
    display      text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE INDEX api_keys_project_idx ON api_keys (project_id);
