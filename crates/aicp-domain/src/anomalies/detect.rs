//! Point anomalies of an hourly series against its seasonal baseline: an hour is anomalous when
//! its excess over the baseline is far above the series' usual excess (median + k × MAD of the
//! residuals, robust to the anomalies themselves); consecutive anomalous hours form one window.
//! This is statistics over money in `f64`; callers keep the exact amounts for what they report.

/// How strict the detector is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorSettings {
    /// Residuals above median + `mad_multiple` × MAD (scaled to σ) are anomalous.
    pub mad_multiple: f64,
    /// …and only if the excess is at least this share of that hour's baseline: a cost anomaly
    /// is a relative jump, and a near-constant series must not flag its own noise.
    pub min_relative_excess: f64,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self { mad_multiple: 5.0, min_relative_excess: 0.5 }
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

/// Which hours of `actual` are anomalously high against `baseline` (same length).
pub fn flag(actual: &[f64], baseline: &[f64], settings: DetectorSettings) -> Vec<bool> {
    let residuals: Vec<f64> = actual.iter().zip(baseline).map(|(a, b)| a - b).collect();
    let center = median(&mut residuals.clone());
    let mut deviations: Vec<f64> = residuals.iter().map(|r| (r - center).abs()).collect();
    // 1.4826 × MAD estimates σ for normal noise.
    let sigma = 1.4826 * median(&mut deviations);
    residuals
        .iter()
        .zip(baseline)
        .map(|(r, b)| {
            *r > center + settings.mad_multiple * sigma
                && *r > settings.min_relative_excess * b.max(0.0)
                && *r > 0.0
        })
        .collect()
}

/// Runs of consecutive `true`s as `[start, end)` index ranges.
pub fn windows(flags: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &f) in flags.iter().enumerate() {
        match (f, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, flags.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spike_far_above_the_baseline_is_flagged_and_ordinary_noise_is_not() {
        let baseline: Vec<f64> =
            (0..48).map(|h| if h % 24 >= 9 && h % 24 < 17 { 10.0 } else { 2.0 }).collect();
        let mut actual: Vec<f64> = baseline
            .iter()
            .enumerate()
            .map(|(i, b)| b + if i % 2 == 0 { 0.3 } else { -0.3 })
            .collect();
        actual[3] = 12.0; // a night hour at a day's cost
        actual[4] = 14.0;
        let flags = flag(&actual, &baseline, DetectorSettings::default());
        assert_eq!(windows(&flags), [(3, 5)]);
    }

    #[test]
    fn runs_become_half_open_windows() {
        assert_eq!(windows(&[true, true, false, true]), [(0, 2), (3, 4)]);
        assert!(windows(&[false, false]).is_empty());
        assert!(flag(&[], &[], DetectorSettings::default()).is_empty());
    }
}
