DROP INDEX events_prompt_calls_idx;
ALTER TABLE events ADD COLUMN prompt_signature integer[], ADD COLUMN prompt_bands bigint[];
UPDATE events e SET prompt_signature = f.signature, prompt_bands = f.bands
FROM prompt_fingerprints f WHERE f.project_id = e.project_id AND f.prompt_hash = e.prompt_hash;
CREATE INDEX events_prompt_bands_idx ON events USING gin (prompt_bands) WHERE prompt_bands IS NOT NULL;
DROP TABLE prompt_fingerprints;
