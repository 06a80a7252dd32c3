ALTER TABLE prompt_fingerprints DROP COLUMN scheme;
