// @generated automatically by Diesel CLI.

diesel::table! {
    events (id) {
        id -> Uuid,
        project_id -> Text,
        trace_id -> Text,
        span_id -> Text,
        parent_span_id -> Nullable<Text>,
        feature -> Text,
        user_id -> Nullable<Text>,
        provider -> Text,
        model -> Text,
        input_tokens -> Int4,
        output_tokens -> Int4,
        cached_tokens -> Int4,
        latency_ms -> Int4,
        estimated_cost_usd -> Numeric,
        verified_cost_usd -> Numeric,
        input_cost_usd -> Numeric,
        cached_input_cost_usd -> Numeric,
        output_cost_usd -> Numeric,
        priced_as -> Nullable<Text>,
        is_cache_hit -> Bool,
        metadata -> Nullable<Jsonb>,
        is_streaming -> Bool,
        error_code -> Nullable<Text>,
        retry_count -> Int4,
        is_error -> Bool,
        created_at -> Timestamptz,
        received_at -> Timestamptz,
    }
}
