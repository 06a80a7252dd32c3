-- Prompt fingerprints, written with the event: the exact hash (MD5 of the normalised text), the
-- template hash (volatile parts masked), the MinHash signature and its LSH band keys. The text
-- itself only as the deployment's privacy setting allows (PROMPT_STORAGE).
ALTER TABLE events
    ADD COLUMN prompt_hash      text,
    ADD COLUMN template_hash    text,
    ADD COLUMN prompt_text      text,
    ADD COLUMN prompt_signature integer[],
    ADD COLUMN prompt_bands     bigint[];

-- Candidates for one prompt come from shared band keys, not from a table scan.
CREATE INDEX events_prompt_bands_idx ON events USING gin (prompt_bands) WHERE prompt_bands IS NOT NULL;
