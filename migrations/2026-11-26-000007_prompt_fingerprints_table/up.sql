-- One fingerprint per distinct prompt of a project, instead of a copy on every call: a MinHash
-- signature (128 integers) and its band keys (16 bigints) add ~700 bytes to each event row, and
-- a GIN entry per call, while repeats (most calls) share them. Near-duplicate candidates are now
-- looked up among distinct prompts; their calls are found through events (project_id, prompt_hash).
CREATE TABLE prompt_fingerprints (
    project_id    text     NOT NULL,
    prompt_hash   text     NOT NULL,
    template_hash text     NOT NULL,
    signature     integer[] NOT NULL,
    bands         bigint[]  NOT NULL,
    PRIMARY KEY (project_id, prompt_hash)
);

INSERT INTO prompt_fingerprints (project_id, prompt_hash, template_hash, signature, bands)
SELECT DISTINCT ON (project_id, prompt_hash)
       project_id, prompt_hash, coalesce(template_hash, prompt_hash), prompt_signature, prompt_bands
FROM events
WHERE prompt_hash IS NOT NULL AND prompt_signature IS NOT NULL AND prompt_bands IS NOT NULL
ORDER BY project_id, prompt_hash, created_at DESC;

CREATE INDEX prompt_fingerprints_bands_idx ON prompt_fingerprints USING gin (bands);

DROP INDEX events_prompt_bands_idx;
ALTER TABLE events DROP COLUMN prompt_signature, DROP COLUMN prompt_bands;

-- The calls of given prompts, and per-prompt aggregates of a window, read from the index alone
-- (index-only scans): it covers every column those aggregates use. Partial: calls without a
-- prompt pay nothing for it.
CREATE INDEX events_prompt_calls_idx ON events (project_id, prompt_hash, created_at)
    INCLUDE (model, feature, verified_cost_usd, input_tokens, output_tokens, cached_tokens,
             cache_write_tokens, is_error, id)
    WHERE prompt_hash IS NOT NULL;
