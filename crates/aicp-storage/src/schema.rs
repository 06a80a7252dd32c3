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
        cache_write_tokens -> Int4,
        cache_write_1h_tokens -> Int4,
        reasoning_tokens -> Int4,
        latency_ms -> Int4,
        estimated_cost_usd -> Numeric,
        provider_cost_usd -> Nullable<Numeric>,
        verified_cost_usd -> Numeric,
        input_cost_usd -> Numeric,
        cache_read_cost_usd -> Numeric,
        cache_write_cost_usd -> Numeric,
        output_cost_usd -> Numeric,
        reasoning_cost_usd -> Numeric,
        priced_as -> Nullable<Text>,
        price_source -> Text,
        price_effective_from -> Nullable<Date>,
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

diesel::table! {
    model_prices (id) {
        id -> Int8,
        project_id -> Nullable<Text>,
        provider -> Nullable<Text>,
        model -> Text,
        aliases -> Array<Nullable<Text>>,
        usage_kind -> Text,
        above_input_tokens -> Int8,
        usd_per_1m -> Numeric,
        effective_from -> Date,
        catalogue_version -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(events, model_prices,);
