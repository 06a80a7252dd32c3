-- Pre-aggregated rollups, maintained in the same statement as the event insert from the rows
-- actually inserted (a retried batch adds nothing), and adjusted by re-pricing. Analytics read
-- them for whole hours/days and read raw events only for the partial hours at a window's edges.

-- Latency histogram: 59 buckets. Bucket 0 is [0, 1) ms, bucket i is [b(i), b(i+1)) for the
-- thresholds below (about 10 per decade, at most ~25 % wide), bucket 58 is [1000000, ∞).
-- The same thresholds live in aicp-domain (analytics::latency); a test keeps them equal.
CREATE FUNCTION aicp_latency_bucket(ms integer) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT width_bucket(ms, ARRAY[1,2,3,4,5,6,8,10,13,16,20,25,32,40,50,64,80,100,125,160,200,250,
        320,400,500,640,800,1000,1250,1600,2000,2500,3200,4000,5000,6400,8000,10000,12500,16000,20000,
        25000,32000,40000,50000,64000,80000,100000,125000,160000,200000,250000,320000,400000,500000,
        640000,800000,1000000]::integer[])
$$;

CREATE FUNCTION aicp_hist_add_value(state bigint[], ms integer) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    b integer;
BEGIN
    IF state IS NULL THEN
        state := array_fill(0::bigint, ARRAY[59]);
    END IF;
    IF ms IS NOT NULL THEN
        b := aicp_latency_bucket(ms) + 1;
        state[b] := state[b] + 1;
    END IF;
    RETURN state;
END
$$;

-- Histogram of a set of latencies.
CREATE AGGREGATE aicp_hist(integer) (
    SFUNC = aicp_hist_add_value,
    STYPE = bigint[],
    INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'
);

-- Element-wise sum of two histograms (a loop: 3x faster than unnest/array_agg, and it runs
-- once per rollup row touched by every insert).
CREATE FUNCTION aicp_hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    i integer;
BEGIN
    IF a IS NULL THEN
        RETURN b;
    END IF;
    IF b IS NULL THEN
        RETURN a;
    END IF;
    FOR i IN 1..array_length(a, 1) LOOP
        a[i] := a[i] + coalesce(b[i], 0);
    END LOOP;
    RETURN a;
END
$$;

-- Sum of histograms.
CREATE AGGREGATE aicp_hist_sum(bigint[]) (
    SFUNC = aicp_hist_add,
    STYPE = bigint[]
);

-- Per hour (UTC) and per day (UTC), by feature, model, provider and success.
CREATE TABLE rollup_hourly (
    project_id        text        NOT NULL,
    bucket            timestamptz NOT NULL,
    feature           text        NOT NULL,
    model             text        NOT NULL,
    provider          text        NOT NULL,
    is_error          boolean     NOT NULL,
    calls             bigint      NOT NULL,
    retried_calls     bigint      NOT NULL,  -- calls with retry_count > 0
    retries           bigint      NOT NULL,  -- sum of retry_count
    cache_hits        bigint      NOT NULL,
    streaming_calls   bigint      NOT NULL,
    unpriced_calls    bigint      NOT NULL,
    input_tokens      bigint      NOT NULL,
    output_tokens     bigint      NOT NULL,
    cached_tokens     bigint      NOT NULL,
    cache_write_tokens bigint     NOT NULL,
    reasoning_tokens  bigint      NOT NULL,
    cost_usd          numeric     NOT NULL,
    retried_cost_usd  numeric     NOT NULL,  -- cost of calls with retry_count > 0
    latency_sum       bigint      NOT NULL,
    latency_min       integer     NOT NULL,
    latency_max       integer     NOT NULL,
    latency_hist      bigint[]    NOT NULL,
    PRIMARY KEY (project_id, bucket, feature, model, provider, is_error)
);

CREATE TABLE rollup_daily (LIKE rollup_hourly INCLUDING ALL);

-- Per day (UTC) and user, for the user breakdown (users are too many for the tables above).
CREATE TABLE rollup_user_daily (
    project_id        text        NOT NULL,
    bucket            timestamptz NOT NULL,
    user_id           text        NOT NULL,
    calls             bigint      NOT NULL,
    input_tokens      bigint      NOT NULL,
    output_tokens     bigint      NOT NULL,
    cost_usd          numeric     NOT NULL,
    latency_sum       bigint      NOT NULL,
    latency_min       integer     NOT NULL,
    latency_max       integer     NOT NULL,
    PRIMARY KEY (project_id, bucket, user_id)
);
