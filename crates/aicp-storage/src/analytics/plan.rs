//! The window planner: how a window splits into raw edges, whole hours and whole days (see the
//! parent module's docs), and the SQL skeleton that reads each part from its source.

use aicp_domain::TimeWindow;
use chrono::{DateTime, Duration, DurationRound, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The split of a window (see the module docs). Bound as `$2..$7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) from: DateTime<Utc>,
    pub(super) to_excl: DateTime<Utc>,
    pub(super) h0: DateTime<Utc>,
    pub(super) h1: DateTime<Utc>,
    pub(super) d0: DateTime<Utc>,
    pub(super) d1: DateTime<Utc>,
}

pub(super) fn floor(t: DateTime<Utc>, unit: Duration) -> DateTime<Utc> {
    t.duration_trunc(unit).unwrap_or(t)
}

pub(super) fn ceil(t: DateTime<Utc>, unit: Duration) -> DateTime<Utc> {
    let f = floor(t, unit);
    if f == t { f } else { f + unit }
}

impl Plan {
    /// Raw rows only.
    pub(super) fn raw(window: &TimeWindow) -> Self {
        let to_excl = window.to + Duration::microseconds(1);
        Self { from: window.from, to_excl, h0: to_excl, h1: to_excl, d0: to_excl, d1: to_excl }
    }

    /// Hourly and daily rollups where whole hours/days fit (`daily` false: hourly only).
    pub(super) fn new(window: &TimeWindow, hourly: bool, daily: bool) -> Self {
        let raw = Self::raw(window);
        if !hourly {
            return raw;
        }
        let h0 = ceil(window.from, Duration::hours(1));
        let h1 = floor(raw.to_excl, Duration::hours(1));
        if h0 >= h1 {
            return raw;
        }
        let (d0, d1) = if daily {
            let d0 = ceil(h0, Duration::days(1));
            let d1 = floor(h1, Duration::days(1));
            if d0 < d1 { (d0, d1) } else { (h1, h1) }
        } else {
            (h1, h1)
        };
        Self { h0, h1, d0, d1, ..raw }
    }

    /// Daily per-user rollup plus raw edges: bound as h0 = d0 = first whole day, h1 = d1 = last.
    pub(super) fn user_daily(window: &TimeWindow) -> Self {
        let raw = Self::raw(window);
        let d0 = ceil(window.from, Duration::days(1));
        let d1 = floor(raw.to_excl, Duration::days(1));
        if d0 >= d1 {
            return raw;
        }
        Self { h0: d0, h1: d1, d0, d1, ..raw }
    }
}

/// Filter predicates over `$8..$12` (feature, model, provider, user, is_error); `user` only for
/// raw rows.
pub(super) fn filter_sql(raw: bool) -> String {
    let mut s = "($8::text IS NULL OR feature = $8) AND ($9::text IS NULL OR model = $9) \
                 AND ($10::text IS NULL OR provider = $10) AND ($12::bool IS NULL OR is_error = $12)"
        .to_owned();
    if raw {
        s.push_str(" AND ($11::text IS NULL OR user_id = $11)");
    }
    s
}

/// The five ranges of a plan over `select_rollup` (reading rollup columns) and `select_raw`
/// (reading event columns); both must produce the same columns. A sixth part adds the events of
/// the rollup ranges (`$4..$5`) that are still in `rollup_pending`: one statement reads one
/// snapshot, in which every committed event is either folded into the rollups or still pending,
/// never both and never neither, so the answer is exact whatever the fold's progress.
/// `select_raw` may only read the columns `rollup_pending` has (the rollups' inputs).
pub(super) fn union(
    select_rollup: &str,
    select_raw: &str,
    hourly_table: &str,
    daily_table: &str,
) -> String {
    let rf = filter_sql(false);
    let ef = filter_sql(true);
    format!(
        "{select_rollup} FROM {daily_table} WHERE project_id = $1 AND bucket >= $6 AND bucket < $7 AND {rf} \
         UNION ALL {select_rollup} FROM {hourly_table} WHERE project_id = $1 AND bucket >= $4 AND bucket < $6 AND {rf} \
         UNION ALL {select_rollup} FROM {hourly_table} WHERE project_id = $1 AND bucket >= $7 AND bucket < $5 AND {rf} \
         UNION ALL {select_raw} FROM events WHERE project_id = $1 AND created_at >= $2 AND created_at < $4 AND {ef} \
         UNION ALL {select_raw} FROM events WHERE project_id = $1 AND created_at >= $5 AND created_at < $3 AND {ef} \
         UNION ALL {}",
        pending(select_raw, &ef)
    )
}

/// `select_raw` over the pending (not yet folded) events of the rollup ranges, `$4..$5`.
pub(super) fn pending(select_raw: &str, filter: &str) -> String {
    format!(
        "{select_raw} FROM rollup_pending WHERE project_id = $1 AND created_at >= $4 AND created_at < $5 \
         AND {filter}"
    )
}

/// Binds `$1..$12`: the project, the plan's bounds and the filter (in [`filter_sql`]'s order).
macro_rules! bind_plan {
    ($query:expr, $project:expr, $plan:expr, $filter:expr) => {
        $query
            .bind::<Text, _>($project.as_str().to_owned())
            .bind::<Timestamptz, _>($plan.from)
            .bind::<Timestamptz, _>($plan.to_excl)
            .bind::<Timestamptz, _>($plan.h0)
            .bind::<Timestamptz, _>($plan.h1)
            .bind::<Timestamptz, _>($plan.d0)
            .bind::<Timestamptz, _>($plan.d1)
            .bind::<Nullable<Text>, _>($filter.feature.clone())
            .bind::<Nullable<Text>, _>($filter.model.clone())
            .bind::<Nullable<Text>, _>($filter.provider.clone())
            .bind::<Nullable<Text>, _>($filter.user_id.clone())
            .bind::<Nullable<Bool>, _>($filter.is_error)
    };
}
pub(super) use bind_plan;

/// Whether `tz` is a whole number of hours from UTC at both ends of the window, so that UTC
/// hours are whole local hours (zones like Asia/Kolkata, +05:30, are read from raw rows).
pub(super) fn whole_hour_offsets(tz: Tz, window: &TimeWindow) -> bool {
    [window.from, window.to]
        .iter()
        .all(|t| tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc() % 3600 == 0)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, d, h, m, 0).single().unwrap_or_default()
    }

    #[test]
    fn a_window_splits_into_raw_edges_whole_hours_and_whole_days() {
        let w = TimeWindow { from: at(10, 30, 1), to: at(15, 45, 4) };
        let p = Plan::new(&w, true, true);
        assert_eq!((p.h0, p.h1), (at(11, 0, 1), at(15, 0, 4)));
        assert_eq!((p.d0, p.d1), (at(0, 0, 2), at(0, 0, 4)));
        let short = TimeWindow { from: at(10, 30, 1), to: at(10, 45, 1) };
        let p = Plan::new(&short, true, true);
        assert_eq!((p.h0, p.h1, p.d0, p.d1), (p.to_excl, p.to_excl, p.to_excl, p.to_excl));
        let hours = TimeWindow { from: at(10, 0, 1), to: at(13, 0, 1) };
        let p = Plan::new(&hours, true, true);
        assert_eq!((p.h0, p.h1), (at(10, 0, 1), at(13, 0, 1)));
        assert_eq!((p.d0, p.d1), (p.h1, p.h1));
    }
}
