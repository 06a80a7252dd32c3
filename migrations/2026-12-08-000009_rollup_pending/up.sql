-- Events committed by ingest but not yet folded into the rollups (docs/ARCHITECTURE.md, "The
-- rollup fold"). Ingest inserts one row here per new event, in the statement that inserts the
-- event; the folder deletes a batch with DELETE … RETURNING and adds exactly those rows to the
-- rollups in the same transaction, so a row is folded once or (if that transaction aborts) not at
-- all. Reads over whole hours and days add the rows still here, from the same snapshot as the
-- rollups they read, so answers are exact whether or not an event has been folded yet.
--
-- The columns are the rollups' inputs (a copy of the event's, so that neither the fold nor the
-- reads join `events`); `queued_at` measures the fold's lag. The key leads with the project and
-- the event time because that is how reads find the pending rows of their window.
CREATE TABLE rollup_pending (
    project_id         text        NOT NULL,
    created_at         timestamptz NOT NULL,
    id                 uuid        NOT NULL,
    feature            text        NOT NULL,
    model              text        NOT NULL,
    provider           text        NOT NULL,
    user_id            text,
    is_error           boolean     NOT NULL,
    retry_count        integer     NOT NULL,
    cached_tokens      integer     NOT NULL,
    is_streaming       boolean     NOT NULL,
    priced_as          text,
    input_tokens       integer     NOT NULL,
    output_tokens      integer     NOT NULL,
    cache_write_tokens integer     NOT NULL,
    reasoning_tokens   integer     NOT NULL,
    verified_cost_usd  numeric(22,12) NOT NULL,
    latency_ms         integer     NOT NULL,
    queued_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, created_at, id)
);

-- A queue: rows live for well under a second, so vacuum it often and keep its pages in place.
ALTER TABLE rollup_pending SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_insert_threshold = 10000, fillfactor = 100);
