-- Which fingerprinting scheme made a prompt's signature and band keys. Fingerprints of different
-- schemes are never compared; a prompt stored under an older scheme is fingerprinted again the
-- next time it is ingested (the insert's upsert replaces a row whose scheme differs). NULL: made
-- before schemes were recorded (the analyzer's first defaults).
ALTER TABLE prompt_fingerprints ADD COLUMN scheme integer;
