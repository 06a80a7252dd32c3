// @generated automatically by Diesel CLI.

diesel::table! {
    alert_outbox (project_id, alert_id, webhook_id) {
        project_id -> Text,
        alert_id -> Uuid,
        webhook_id -> Uuid,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    alerts (project_id, id) {
        project_id -> Text,
        id -> Uuid,
        kind -> Text,
        dedupe_key -> Text,
        budget_id -> Nullable<Uuid>,
        period_start -> Nullable<Timestamptz>,
        threshold_pct -> Nullable<Int4>,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        project_id -> Text,
        name -> Text,
        digest -> Bytea,
        display -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    budgets (project_id, id) {
        project_id -> Text,
        id -> Uuid,
        name -> Text,
        scope_kind -> Nullable<Text>,
        scope_value -> Nullable<Text>,
        period -> Text,
        time_zone -> Text,
        amount_usd -> Numeric,
        thresholds -> Array<Nullable<Int4>>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

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
        prompt_hash -> Nullable<Text>,
        template_hash -> Nullable<Text>,
        prompt_text -> Nullable<Text>,
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

diesel::table! {
    projects (id) {
        id -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    prompt_embeddings (project_id, model, prompt_hash) {
        project_id -> Text,
        model -> Text,
        prompt_hash -> Text,
        embedding -> Array<Nullable<Float4>>,
        bands -> Array<Nullable<Int8>>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    prompt_fingerprints (project_id, prompt_hash) {
        project_id -> Text,
        prompt_hash -> Text,
        template_hash -> Text,
        signature -> Array<Nullable<Int4>>,
        bands -> Array<Nullable<Int8>>,
        scheme -> Nullable<Int4>,
    }
}

diesel::table! {
    rollup_daily (project_id, bucket, feature, model, provider, is_error) {
        project_id -> Text,
        bucket -> Timestamptz,
        feature -> Text,
        model -> Text,
        provider -> Text,
        is_error -> Bool,
        calls -> Int8,
        retried_calls -> Int8,
        retries -> Int8,
        cache_hits -> Int8,
        streaming_calls -> Int8,
        unpriced_calls -> Int8,
        input_tokens -> Int8,
        output_tokens -> Int8,
        cached_tokens -> Int8,
        cache_write_tokens -> Int8,
        reasoning_tokens -> Int8,
        cost_usd -> Numeric,
        retried_cost_usd -> Numeric,
        latency_sum -> Int8,
        latency_min -> Int4,
        latency_max -> Int4,
        latency_hist -> Array<Nullable<Int8>>,
    }
}

diesel::table! {
    rollup_hourly (project_id, bucket, feature, model, provider, is_error) {
        project_id -> Text,
        bucket -> Timestamptz,
        feature -> Text,
        model -> Text,
        provider -> Text,
        is_error -> Bool,
        calls -> Int8,
        retried_calls -> Int8,
        retries -> Int8,
        cache_hits -> Int8,
        streaming_calls -> Int8,
        unpriced_calls -> Int8,
        input_tokens -> Int8,
        output_tokens -> Int8,
        cached_tokens -> Int8,
        cache_write_tokens -> Int8,
        reasoning_tokens -> Int8,
        cost_usd -> Numeric,
        retried_cost_usd -> Numeric,
        latency_sum -> Int8,
        latency_min -> Int4,
        latency_max -> Int4,
        latency_hist -> Array<Nullable<Int8>>,
    }
}

diesel::table! {
    rollup_pending (project_id, created_at, id) {
        project_id -> Text,
        created_at -> Timestamptz,
        id -> Uuid,
        feature -> Text,
        model -> Text,
        provider -> Text,
        user_id -> Nullable<Text>,
        is_error -> Bool,
        retry_count -> Int4,
        cached_tokens -> Int4,
        is_streaming -> Bool,
        priced_as -> Nullable<Text>,
        input_tokens -> Int4,
        output_tokens -> Int4,
        cache_write_tokens -> Int4,
        reasoning_tokens -> Int4,
        verified_cost_usd -> Numeric,
        latency_ms -> Int4,
        queued_at -> Timestamptz,
    }
}

diesel::table! {
    rollup_user_daily (project_id, bucket, user_id) {
        project_id -> Text,
        bucket -> Timestamptz,
        user_id -> Text,
        calls -> Int8,
        input_tokens -> Int8,
        output_tokens -> Int8,
        cost_usd -> Numeric,
        latency_sum -> Int8,
        latency_min -> Int4,
        latency_max -> Int4,
    }
}

diesel::table! {
    webhooks (project_id, id) {
        project_id -> Text,
        id -> Uuid,
        url -> Text,
        secret -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(api_keys -> projects (project_id));

diesel::allow_tables_to_appear_in_same_query!(
    alert_outbox,
    alerts,
    api_keys,
    budgets,
    events,
    model_prices,
    projects,
    prompt_embeddings,
    prompt_fingerprints,
    rollup_daily,
    rollup_hourly,
    rollup_pending,
    rollup_user_daily,
    webhooks,
);
