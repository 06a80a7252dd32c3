//! One `events` row in the CSV form COPY reads, written without allocation per field.

use std::fmt::Write as _;

use aicp_domain::pricing::Priced;
use chrono::{DateTime, Datelike, Timelike, Utc};
use uuid::Uuid;

use super::generate::Call;

/// The columns of every COPY into `events` (and `bench_copy`), in [`write_csv_row`]'s order.
pub(crate) const COLUMNS: &str = "id, project_id, trace_id, span_id, parent_span_id, feature, \
user_id, provider, model, input_tokens, output_tokens, cached_tokens, cache_write_tokens, \
cache_write_1h_tokens, reasoning_tokens, latency_ms, estimated_cost_usd, provider_cost_usd, \
verified_cost_usd, input_cost_usd, cache_read_cost_usd, cache_write_cost_usd, output_cost_usd, \
reasoning_cost_usd, priced_as, price_source, price_effective_from, is_cache_hit, metadata, \
is_streaming, error_code, retry_count, is_error, created_at, received_at";

/// Number of fields in [`COLUMNS`].
#[cfg(test)]
pub(crate) const COLUMN_COUNT: usize = 35;

/// One `events` row.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub(crate) id: Uuid,
    /// Already CSV-quoted.
    pub(crate) project_csv: &'a str,
    pub(crate) trace_id: &'a str,
    pub(crate) span_id: &'a str,
    pub(crate) parent_span_id: Option<&'a str>,
    pub(crate) feature: &'a str,
    pub(crate) user_id: Option<&'a str>,
    pub(crate) call: &'a Call,
    pub(crate) priced: &'a Priced,
    pub(crate) created_at: DateTime<Utc>,
}

/// `s` as one CSV field, always quoted (a quoted empty string is not NULL).
pub(crate) fn csv_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Appends `row` as one line of `COPY ... (FORMAT csv)` in [`COLUMNS`]' order. Ids, features,
/// users and models are plain tokens (no comma, quote or newline); free text is quoted.
pub(crate) fn write_csv_row(buf: &mut String, row: &Row<'_>) {
    // Hand-rolled rather than one `write!`: `cargo xtask` runs unoptimized, where the formatting
    // machinery is most of the cost of a row.
    let c = row.call;
    let cost = &row.priced.cost;
    let flag = |b: bool| if b { "t," } else { "f," };
    let mut uuid = [0u8; uuid::fmt::Hyphenated::LENGTH];
    buf.push_str(row.id.hyphenated().encode_lower(&mut uuid));
    buf.push(',');
    for text in [row.project_csv, row.trace_id, row.span_id, row.parent_span_id.unwrap_or("")] {
        buf.push_str(text);
        buf.push(',');
    }
    for text in [row.feature, row.user_id.unwrap_or(""), c.provider, c.model] {
        buf.push_str(text);
        buf.push(',');
    }
    for n in [
        c.input_tokens,
        c.output_tokens,
        c.cached_tokens,
        c.cache_write_tokens,
        c.cache_write_1h_tokens,
    ] {
        push_u32(buf, n);
        buf.push(',');
    }
    buf.push_str("0,"); // reasoning_tokens: none of the seeded models reasons
    push_u32(buf, c.latency_ms);
    buf.push(',');
    let total_at = buf.len();
    push_decimal(buf, cost.total.amount());
    let total = buf[total_at..].to_owned();
    // estimated_cost_usd (the SDK's estimate: here the exact cost), provider_cost_usd (NULL: the
    // original SDK never reports it), verified_cost_usd.
    buf.push_str(",,");
    buf.push_str(&total);
    for part in [cost.input, cost.cache_read, cost.cache_write, cost.output, cost.reasoning] {
        buf.push(',');
        push_decimal(buf, part.amount());
    }
    buf.push(',');
    buf.push_str(row.priced.priced_as.as_deref().unwrap_or(""));
    buf.push(',');
    buf.push_str(row.priced.source.as_str());
    buf.push(',');
    if let Some(day) = row.priced.effective_from {
        let _ = write!(buf, "{day}");
    }
    buf.push(',');
    buf.push_str(flag(c.cached_tokens > 0));
    if let Some(json) = c.metadata {
        buf.push_str(&csv_quote(json));
    }
    buf.push(',');
    buf.push_str(flag(c.is_streaming));
    buf.push_str(c.error_code.unwrap_or(""));
    buf.push(',');
    push_u32(buf, c.retry_count);
    buf.push(',');
    buf.push_str(flag(c.is_error));
    let at = buf.len();
    push_timestamp(buf, row.created_at);
    let created = buf[at..].to_owned();
    buf.push(',');
    buf.push_str(&created); // received_at
    buf.push('\n');
}

pub(crate) fn push_u32(buf: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        buf.push(char::from(d));
    }
}

pub(crate) fn push_padded(buf: &mut String, n: u32, width: u32) {
    for p in (0..width).rev() {
        buf.push(char::from(b'0' + (n / 10u32.pow(p) % 10) as u8));
    }
}

pub(crate) fn push_decimal(buf: &mut String, d: rust_decimal::Decimal) {
    if d.is_zero() {
        buf.push('0');
    } else {
        let _ = write!(buf, "{d}");
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm+00`.
pub(crate) fn push_timestamp(buf: &mut String, t: DateTime<Utc>) {
    push_padded(buf, u32::try_from(t.year()).unwrap_or(0), 4);
    for (sep, n) in
        [('-', t.month()), ('-', t.day()), (' ', t.hour()), (':', t.minute()), (':', t.second())]
    {
        buf.push(sep);
        push_padded(buf, n, 2);
    }
    buf.push('.');
    push_padded(buf, t.timestamp_subsec_millis().min(999), 3);
    buf.push_str("+00");
}
