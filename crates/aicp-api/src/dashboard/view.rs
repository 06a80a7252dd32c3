//! What every dashboard page is asked: the time window (a quick range or custom dates), the time
//! zone, and the filters, all kept in the URL so a view can be shared, bookmarked and walked
//! back with the browser's history.

use aicp_domain::TimeWindow;
use aicp_domain::analytics::query::{parse_bool, parse_tz};
use aicp_domain::analytics::{Filter, GroupBy};
use aicp_domain::window::parse_bound;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Quick ranges offered by the picker, with their lengths.
pub const RANGES: [(&str, &str); 4] =
    [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days")];

/// The range shown when none is asked for.
pub const DEFAULT_RANGE: &str = "7d";

/// The query string of a page. Unknown keys are ignored; every value is checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ViewQuery {
    /// `1h`, `24h`, `7d`, `30d` or `custom`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// Custom start (`YYYY-MM-DD` in `tz`, or an RFC 3339 instant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Custom end (inclusive; a date means the whole day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// IANA time zone (the browser's, set by the page's script; UTC without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// Only this feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// Only this model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Only this provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Only this end user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `true`: failed calls only; `false`: successful calls only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<String>,
    /// Table sort column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// `asc` or `desc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Chart split: `feature` or `model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Events page cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Similarity mode (prompt page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// A checked view: window, zone and filter.
#[derive(Debug, Clone)]
pub struct View {
    /// The query as asked (for links that change one part).
    pub query: ViewQuery,
    /// The window.
    pub window: TimeWindow,
    /// `1h` … `30d` or `custom`.
    pub range: String,
    /// The zone for buckets and times.
    pub tz: Tz,
    /// The filters.
    pub filter: Filter,
}

fn non_empty(v: Option<&String>) -> Option<String> {
    v.filter(|s| !s.is_empty()).cloned()
}

/// A bound in `tz`: a date is that day's start (or end) there; an instant is itself.
fn bound(text: &str, end: bool, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let local = if end {
            day.succ_opt()?.and_hms_opt(0, 0, 0)? - Duration::microseconds(1)
        } else {
            day.and_hms_opt(0, 0, 0)?
        };
        return tz.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc));
    }
    parse_bound(text, end)
}

impl ViewQuery {
    /// Checks the query against `now`.
    ///
    /// # Errors
    /// A sentence saying which value is wrong (the page answers 400 with it).
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<View, String> {
        let tz = parse_tz(self.tz.as_deref().filter(|t| !t.is_empty()))?;
        let range = non_empty(self.range.as_ref()).unwrap_or_else(|| {
            if self.from.is_some() || self.to.is_some() { "custom" } else { DEFAULT_RANGE }.into()
        });
        let window = match range.as_str() {
            "1h" => TimeWindow { from: now - Duration::hours(1), to: now },
            "24h" => TimeWindow { from: now - Duration::hours(24), to: now },
            "7d" => TimeWindow { from: now - Duration::days(7), to: now },
            "30d" => TimeWindow { from: now - Duration::days(30), to: now },
            "custom" => {
                let from = non_empty(self.from.as_ref()).ok_or("Choose a start date")?;
                let to = non_empty(self.to.as_ref()).ok_or("Choose an end date")?;
                let from = bound(&from, false, tz).ok_or("The start date is not a date")?;
                let to = bound(&to, true, tz).ok_or("The end date is not a date")?;
                if from >= to {
                    return Err("The start must be before the end".into());
                }
                TimeWindow { from, to }
            }
            other => {
                return Err(format!("Unknown range '{other}': use 1h, 24h, 7d, 30d or custom"));
            }
        };
        let is_error = match non_empty(self.errors.as_ref()) {
            None => None,
            Some(v) => Some(parse_bool("errors", &v)?),
        };
        let filter = Filter {
            feature: non_empty(self.feature.as_ref()),
            model: non_empty(self.model.as_ref()),
            provider: non_empty(self.provider.as_ref()),
            user_id: non_empty(self.user.as_ref()),
            is_error,
        }
        .check()?;
        Ok(View { query: self.clone(), window, range, tz, filter })
    }
}

impl View {
    /// `path` with this view's query, changed by `edit` (the page's own links).
    pub fn href(&self, path: &str, edit: impl FnOnce(&mut ViewQuery)) -> String {
        let mut q = self.query.clone();
        edit(&mut q);
        let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
        if qs.is_empty() { path.to_owned() } else { format!("{path}?{qs}") }
    }

    /// `path` keeping only the window and zone (a link to another page's whole view).
    pub fn window_href(&self, path: &str) -> String {
        self.href(path, |q| {
            *q = ViewQuery {
                range: q.range.take(),
                from: q.from.take(),
                to: q.to.take(),
                tz: q.tz.take(),
                ..ViewQuery::default()
            };
        })
    }

    /// A drill-down from a row of `dimension` to the events behind it.
    pub fn drill(&self, dimension: GroupBy, value: &str) -> String {
        self.href("/events", |q| {
            q.sort = None;
            q.dir = None;
            q.cursor = None;
            let slot = match dimension {
                GroupBy::Feature => &mut q.feature,
                GroupBy::Model => &mut q.model,
                GroupBy::Provider => &mut q.provider,
                GroupBy::User => &mut q.user,
            };
            *slot = Some(value.to_owned());
        })
    }

    /// The export API URL of `kind` (`events`, `features`, …) for this window and filters.
    pub fn export_href(&self, kind: &str, format: &str) -> String {
        let f = &self.filter;
        let mut pairs: Vec<(&str, String)> = vec![
            ("format", format.to_owned()),
            ("from", self.window.from.to_rfc3339()),
            ("to", self.window.to.to_rfc3339()),
        ];
        if kind == "events" {
            let opt = [("feature", &f.feature), ("model", &f.model), ("provider", &f.provider)];
            for (k, v) in opt {
                if let Some(v) = v {
                    pairs.push((k, v.clone()));
                }
            }
            if let Some(u) = &f.user_id {
                pairs.push(("userId", u.clone()));
            }
        }
        if let Some(group) = kind.strip_prefix("cost-summary:") {
            pairs.push(("groupBy", group.to_owned()));
            return format!(
                "/api/v1/export/cost-summary?{}",
                serde_urlencoded::to_string(&pairs).unwrap_or_default()
            );
        }
        format!("/api/v1/export/{kind}?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    }

    /// The API query string for the same window and filters (for the "numbers equal the API"
    /// links and tests).
    pub fn api_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> =
            vec![("from", self.window.from.to_rfc3339()), ("to", self.window.to.to_rfc3339())];
        let f = &self.filter;
        for (k, v) in [("feature", &f.feature), ("model", &f.model), ("provider", &f.provider)] {
            if let Some(v) = v {
                pairs.push((k, v.clone()));
            }
        }
        if let Some(u) = &f.user_id {
            pairs.push(("userId", u.clone()));
        }
        if let Some(e) = f.is_error {
            pairs.push(("isError", e.to_string()));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }

    /// `2026-01-05 10:00` in the view's zone.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// The window as a sentence (`2026-01-05 10:00 → 2026-01-06 10:00 (Europe/Paris)`).
    pub fn window_label(&self) -> String {
        let f = |t: DateTime<Utc>| t.with_timezone(&self.tz).format("%Y-%m-%d %H:%M").to_string();
        format!("{} → {} ({})", f(self.window.from), f(self.window.to), self.tz.name())
    }

    /// The active filters as `(label, value, link without it)`.
    pub fn chips(&self) -> Vec<(&'static str, String, String)> {
        let q = &self.query;
        let mut out = Vec::new();
        let mut push = |label, value: &Option<String>, clear: fn(&mut ViewQuery)| {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                out.push((
                    label,
                    v.clone(),
                    self.href("", |q| {
                        clear(q);
                        q.cursor = None;
                    }),
                ));
            }
        };
        push("feature", &q.feature, |q| q.feature = None);
        push("model", &q.model, |q| q.model = None);
        push("provider", &q.provider, |q| q.provider = None);
        push("user", &q.user, |q| q.user = None);
        push("errors", &q.errors, |q| q.errors = None);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
    }

    fn q(pairs: &str) -> ViewQuery {
        serde_urlencoded::from_str(pairs).unwrap()
    }

    #[test]
    fn quick_ranges_end_now_and_default_to_seven_days() {
        let v = q("").resolve(now()).unwrap();
        assert_eq!((v.range.as_str(), v.window.to - v.window.from), ("7d", Duration::days(7)));
        let v = q("range=1h").resolve(now()).unwrap();
        assert_eq!(v.window.from, now() - Duration::hours(1));
    }

    #[test]
    fn custom_dates_are_whole_days_in_the_zone() {
        let v = q("range=custom&from=2026-03-01&to=2026-03-02&tz=Europe/Paris").resolve(now());
        let v = v.unwrap();
        assert_eq!(v.window.from, Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap());
        assert_eq!(
            v.window.to,
            Utc.with_ymd_and_hms(2026, 3, 2, 23, 0, 0).unwrap() - Duration::microseconds(1)
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert!(q("range=2w").resolve(now()).unwrap_err().contains("2w"));
        assert!(q("tz=Mars/Base").resolve(now()).is_err());
        assert!(q("range=custom&from=2026-03-02&to=2026-03-01").resolve(now()).is_err());
        assert!(q("range=custom&from=yesterday&to=2026-03-01").resolve(now()).is_err());
        assert!(q("errors=maybe").resolve(now()).is_err());
    }

    #[test]
    fn links_keep_the_view_and_change_one_part() {
        let v = q("range=24h&tz=UTC&model=gpt-4o").resolve(now()).unwrap();
        assert_eq!(
            v.drill(GroupBy::Feature, "chat & co"),
            "/events?range=24h&tz=UTC&feature=chat+%26+co&model=gpt-4o"
        );
        assert_eq!(v.window_href("/models"), "/models?range=24h&tz=UTC");
        assert_eq!(v.chips().len(), 1);
        assert_eq!(v.chips()[0].2, "?range=24h&tz=UTC");
    }
}
