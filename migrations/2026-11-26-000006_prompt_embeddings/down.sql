DROP TABLE prompt_embeddings;
