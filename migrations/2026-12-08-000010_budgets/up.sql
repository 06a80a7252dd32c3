-- Budgets, alerts and webhook delivery (issue 18). Every key starts with project_id: every read
-- and write is scoped to one project, and the keys let PostgreSQL prove it.

-- A spend limit per calendar period (day, ISO week, month) in an IANA time zone, optionally
-- narrowed to one feature, model, provider or end user. Thresholds are whole percents.
CREATE TABLE budgets (
    project_id  text           NOT NULL,
    id          uuid           NOT NULL,
    name        text           NOT NULL,
    scope_kind  text           CHECK (scope_kind IN ('feature', 'model', 'provider', 'user')),
    scope_value text,
    period      text           NOT NULL CHECK (period IN ('day', 'week', 'month')),
    time_zone   text           NOT NULL,
    amount_usd  numeric(22,12) NOT NULL CHECK (amount_usd > 0),
    thresholds  integer[]      NOT NULL,
    created_at  timestamptz    NOT NULL DEFAULT now(),
    updated_at  timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id),
    CHECK ((scope_kind IS NULL) = (scope_value IS NULL))
);

-- Receivers of alerts. The secret signs each delivery (HMAC-SHA256), so it is kept as given.
CREATE TABLE webhooks (
    project_id text        NOT NULL,
    id         uuid        NOT NULL,
    url        text        NOT NULL,
    secret     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id)
);

-- Every alert raised. `dedupe_key` makes raising idempotent across processes: a budget
-- threshold's key is budget + period start + threshold, so it fires once per period
-- (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE alerts (
    project_id    text        NOT NULL,
    id            uuid        NOT NULL,
    kind          text        NOT NULL,
    dedupe_key    text        NOT NULL,
    budget_id     uuid,
    period_start  timestamptz,
    threshold_pct integer,
    payload       jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, dedupe_key)
);

CREATE INDEX alerts_recent_idx ON alerts (project_id, created_at DESC, id DESC);

-- One delivery per alert and webhook, written in the statement that raises the alert and
-- marked delivered only after a 2xx: at-least-once across restarts.
CREATE TABLE alert_outbox (
    project_id      text        NOT NULL,
    alert_id        uuid        NOT NULL,
    webhook_id      uuid        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    PRIMARY KEY (project_id, alert_id, webhook_id),
    FOREIGN KEY (project_id, alert_id) REFERENCES alerts (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, webhook_id) REFERENCES webhooks (project_id, id) ON DELETE CASCADE
);

CREATE INDEX alert_outbox_due_idx ON alert_outbox (next_attempt_at) WHERE delivered_at IS NULL;
