-- Every price the server knows, one row per (model, usage kind, tier, period): the built-in
-- catalogue (project_id NULL, rewritten from pricing/catalogue.toml at start-up) and the prices
-- projects set for themselves (project_id set). Loaded into memory; ingest never reads it.
CREATE TABLE model_prices (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id         text,
    provider           text,
    model              text        NOT NULL,
    aliases            text[]      NOT NULL DEFAULT '{}',
    usage_kind         text        NOT NULL CHECK (usage_kind IN
                           ('input', 'output', 'cache_read', 'cache_write_5m', 'cache_write_1h', 'reasoning')),
    -- 0 = the base rate; otherwise a long-context tier for prompts above this many tokens.
    above_input_tokens bigint      NOT NULL DEFAULT 0 CHECK (above_input_tokens >= 0),
    usd_per_1m         numeric(22,12) NOT NULL CHECK (usd_per_1m >= 0),
    effective_from     date        NOT NULL,
    catalogue_version  text,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX model_prices_key ON model_prices
    (project_id, model, usage_kind, above_input_tokens, effective_from) NULLS NOT DISTINCT;
