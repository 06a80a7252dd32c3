DROP INDEX events_prompt_bands_idx;
ALTER TABLE events DROP COLUMN prompt_hash, DROP COLUMN template_hash, DROP COLUMN prompt_text,
    DROP COLUMN prompt_signature, DROP COLUMN prompt_bands;
