-- One row per LLM call. Every field of the original's event (original-api.md §6.1) plus the
-- owning project, the server's cost breakdown and the time the server received the event.
CREATE TABLE events (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id         text        NOT NULL DEFAULT 'default',
    trace_id           text        NOT NULL,
    span_id            text        NOT NULL,
    parent_span_id     text,
    feature            text        NOT NULL,
    user_id            text,
    provider           text        NOT NULL,
    model              text        NOT NULL,
    -- Token semantics (docs/API.md): input includes cache reads and writes, output includes
    -- reasoning.
    input_tokens       integer     NOT NULL CHECK (input_tokens >= 0),
    output_tokens      integer     NOT NULL CHECK (output_tokens >= 0),
    cached_tokens      integer     NOT NULL DEFAULT 0 CHECK (cached_tokens >= 0),
    cache_write_tokens integer     NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    cache_write_1h_tokens integer  NOT NULL DEFAULT 0 CHECK (cache_write_1h_tokens >= 0),
    reasoning_tokens   integer     NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
    latency_ms         integer     NOT NULL CHECK (latency_ms >= 0),
    -- Money: exact, 12 decimals (one gpt-4o-mini input token is 0.00000015 USD).
    estimated_cost_usd numeric(22,12) NOT NULL CHECK (estimated_cost_usd >= 0),
    provider_cost_usd  numeric(22,12) CHECK (provider_cost_usd >= 0),
    -- The server's cost and its parts by usage kind.
    verified_cost_usd  numeric(22,12) NOT NULL CHECK (verified_cost_usd >= 0),
    input_cost_usd     numeric(22,12) NOT NULL DEFAULT 0,
    cache_read_cost_usd numeric(22,12) NOT NULL DEFAULT 0,
    cache_write_cost_usd numeric(22,12) NOT NULL DEFAULT 0,
    output_cost_usd    numeric(22,12) NOT NULL DEFAULT 0,
    reasoning_cost_usd numeric(22,12) NOT NULL DEFAULT 0,
    -- The price used: model id (NULL = unknown model, fallback price: "unpriced"), its source and
    -- the first day of the price period.
    priced_as          text,
    price_source       text        NOT NULL DEFAULT 'catalogue'
                       CHECK (price_source IN ('catalogue', 'custom', 'fallback')),
    price_effective_from date,
    is_cache_hit       boolean     NOT NULL DEFAULT false,
    metadata           jsonb,
    is_streaming       boolean     NOT NULL DEFAULT false,
    error_code         text,
    retry_count        integer     NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    is_error           boolean     NOT NULL DEFAULT false,
    -- The client's timestamp of the call: every time window filters on it (as the original).
    created_at         timestamptz NOT NULL DEFAULT now(),
    received_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_cost_parts_add_up
        CHECK (verified_cost_usd = input_cost_usd + cache_read_cost_usd + cache_write_cost_usd
                                   + output_cost_usd + reasoning_cost_usd)
);

-- Idempotent ingest: a re-sent event (same project, trace and span) is skipped. Also serves
-- trace lookups by (project_id, trace_id).
CREATE UNIQUE INDEX events_project_trace_span_key ON events (project_id, trace_id, span_id);

-- Time windows and keyset pagination, newest first, always within one project.
CREATE INDEX events_project_created_id_idx ON events (project_id, created_at DESC, id DESC);
