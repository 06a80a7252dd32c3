DROP TABLE rollup_user_daily;
DROP TABLE rollup_daily;
DROP TABLE rollup_hourly;
DROP AGGREGATE aicp_hist_sum(bigint[]);
DROP FUNCTION aicp_hist_add(bigint[], bigint[]);
DROP AGGREGATE aicp_hist(integer);
DROP FUNCTION aicp_hist_add_value(bigint[], integer);
DROP FUNCTION aicp_latency_bucket(integer);
