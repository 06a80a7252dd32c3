DROP INDEX events_prompt_hash_idx;
DROP TABLE prompt_embeddings;
