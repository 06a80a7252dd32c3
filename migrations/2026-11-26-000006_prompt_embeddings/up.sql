-- Semantic similarity (optional, when an embeddings provider is configured): one embedding per
-- distinct prompt of a project and embedding model, with its random-hyperplane LSH band keys.
-- Keyed by prompt hash, not by event: repeats (the point of this tool) are embedded once.
CREATE TABLE prompt_embeddings (
    project_id  text        NOT NULL,
    model       text        NOT NULL,
    prompt_hash text        NOT NULL,
    embedding   real[]      NOT NULL,
    bands       bigint[]    NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, model, prompt_hash)
);

-- Candidates for one prompt come from shared band keys, not from a table scan.
CREATE INDEX prompt_embeddings_bands_idx ON prompt_embeddings USING gin (bands);
