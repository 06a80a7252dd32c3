//! Charts drawn on the server as SVG (plotters): cost over time stacked by feature or model, and
//! horizontal bars of a breakdown. Each chart carries a title for screen readers and is shown
//! beside a table of the same numbers. Colours are Okabe–Ito (told apart by colour-blind
//! readers), assigned by name so a model keeps its colour across pages; geometry is computed in
//! floating point, which is display only: the amounts shown in text are exact.

use aicp_domain::Usd;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use plotters::prelude::*;

/// Okabe–Ito, without black (kept for text).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xF0, 0xE4, 0x42),
];
/// Grey for "other".
const OTHER: RGBColor = RGBColor(0x99, 0x99, 0x99);
/// Axis text: readable on light and dark backgrounds.
const AXIS: RGBColor = RGBColor(0x80, 0x88, 0x90);

/// The stable colour of a series name (FNV-1a of the name into the palette).
pub fn colour(name: &str) -> RGBColor {
    if name == aicp_domain::analytics::service::OTHER {
        return OTHER;
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    PALETTE[(h as usize) % PALETTE.len()]
}

/// `#rrggbb` of [`colour`] (for legends and table swatches).
pub fn css_colour(name: &str) -> String {
    let RGBColor(r, g, b) = colour(name);
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn to_f64(u: Usd) -> f64 {
    Usd::to_f64(u)
}

/// Gives the SVG a role and an accessible name.
fn labelled(svg: String, id: &str, title: &str) -> String {
    let escaped = title.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    match svg.find("<svg ") {
        Some(at) => {
            let close = svg[at..].find('>').map_or(svg.len(), |i| at + i + 1);
            format!(
                "{}<svg role=\"img\" aria-labelledby=\"{id}\" {}<title id=\"{id}\">{escaped}</title>{}",
                &svg[..at],
                &svg[at + 5..close],
                &svg[close..]
            )
        }
        None => svg,
    }
}

/// One series of a stacked chart.
pub struct Series<'a> {
    /// Name (feature, model or `other`).
    pub name: &'a str,
    /// One amount per bucket.
    pub costs: &'a [Usd],
}

/// Cost per bucket, stacked by series. `label` is the chart's accessible name.
pub fn stacked_bars(
    id: &str,
    label: &str,
    buckets: &[DateTime<Utc>],
    series: &[Series<'_>],
    totals: &[Usd],
    tz: Tz,
    hourly: bool,
) -> String {
    let mut svg = String::new();
    let max = totals.iter().copied().map(to_f64).fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let n = buckets.len().max(1);
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (960, 300)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..n as f64, 0f64..top)?;
        let fmt_x = |x: &f64| {
            let i = x.floor();
            if i < 0.0 || (i as usize) >= buckets.len() || (x - i).abs() > f64::EPSILON {
                return String::new();
            }
            let t = buckets[i as usize].with_timezone(&tz);
            if hourly { t.format("%d %H:%M").to_string() } else { t.format("%b %d").to_string() }
        };
        let fmt_y = |y: &f64| {
            if top >= 10.0 {
                format!("${y:.0}")
            } else if top >= 0.1 {
                format!("${y:.2}")
            } else {
                format!("${y:.4}")
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(12))
            .y_labels(5)
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .axis_style(AXIS)
            .light_line_style(AXIS.mix(0.2))
            .bold_line_style(AXIS.mix(0.3))
            .label_style(("sans-serif", 12).into_font().color(&AXIS))
            .draw()?;
        let mut base = vec![0.0_f64; buckets.len()];
        for s in series {
            let c = colour(s.name);
            let bars: Vec<Rectangle<(f64, f64)>> = s
                .costs
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.amount().is_zero())
                .map(|(i, v)| {
                    let y0 = base[i];
                    let y1 = y0 + to_f64(*v);
                    base[i] = y1;
                    Rectangle::new([(i as f64 + 0.1, y0), (i as f64 + 0.9, y1)], c.filled())
                })
                .collect();
            chart.draw_series(bars)?;
        }
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        tracing::warn!(error = %e, "chart drawing failed");
        return String::new();
    }
    labelled(svg, id, label)
}

/// Horizontal bars of `(name, cost)`, largest first.
pub fn bars(id: &str, label: &str, rows: &[(String, Usd)]) -> String {
    let mut svg = String::new();
    let max = rows.iter().map(|(_, c)| to_f64(*c)).fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max * 1.15 } else { 1.0 };
    let n = rows.len().max(1);
    let height = (40 + 26 * n).min(600) as u32;
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (720, height)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(160)
            .build_cartesian_2d(0f64..top, 0f64..n as f64)?;
        let name_at = |y: &f64| {
            let i = y.floor();
            if i < 0.0 || (i as usize) >= rows.len() || (y - i - 0.5).abs() > 0.01 {
                return String::new();
            }
            let name = &rows[rows.len() - 1 - i as usize].0;
            if name.chars().count() > 22 {
                format!("{}…", name.chars().take(21).collect::<String>())
            } else {
                name.clone()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n * 2 + 1)
            .x_labels(5)
            .y_label_formatter(&name_at)
            .x_label_formatter(&|x| {
                if top >= 10.0 { format!("${x:.0}") } else { format!("${x:.3}") }
            })
            .axis_style(AXIS)
            .light_line_style(AXIS.mix(0.2))
            .bold_line_style(AXIS.mix(0.3))
            .label_style(("sans-serif", 12).into_font().color(&AXIS))
            .draw()?;
        chart.draw_series(rows.iter().enumerate().map(|(i, (name, cost))| {
            let y = (rows.len() - 1 - i) as f64;
            Rectangle::new([(0.0, y + 0.15), (to_f64(*cost), y + 0.85)], colour(name).filled())
        }))?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        tracing::warn!(error = %e, "chart drawing failed");
        return String::new();
    }
    labelled(svg, id, label)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::TimeZone;
    use rust_decimal::Decimal;

    use super::*;

    fn usd(s: &str) -> Usd {
        Usd::new(Decimal::from_str(s).unwrap())
    }

    #[test]
    fn a_stacked_chart_is_an_accessible_svg_with_one_bar_per_non_zero_amount() {
        let t = |h| Utc.with_ymd_and_hms(2026, 1, 5, h, 0, 0).unwrap();
        let a = [usd("1"), usd("0")];
        let b = [usd("0.5"), usd("2")];
        let series = [Series { name: "chat", costs: &a }, Series { name: "search", costs: &b }];
        let svg = stacked_bars(
            "c1",
            "Cost per hour",
            &[t(1), t(2)],
            &series,
            &[usd("1.5"), usd("2")],
            chrono_tz::UTC,
            true,
        );
        assert!(svg.contains("<svg role=\"img\" aria-labelledby=\"c1\""), "{svg}");
        assert!(svg.contains("<title id=\"c1\">Cost per hour</title>"));
        let fill = |name: &str| format!("fill=\"{}\"", css_colour(name).to_uppercase());
        let count = |name: &str| svg.to_uppercase().matches(&fill(name).to_uppercase()).count();
        assert_eq!(count("chat"), 1, "one bar for chat's one non-zero bucket");
        assert_eq!(count("search"), 2);
    }

    #[test]
    fn colours_are_stable_per_name_and_other_is_grey() {
        assert_eq!(css_colour("gpt-4o"), css_colour("gpt-4o"));
        assert_eq!(css_colour("other"), "#999999");
        let bars =
            bars("b1", "Cost by model", &[("gpt-4o".into(), usd("2")), ("x<y".into(), usd("1"))]);
        assert!(bars.contains("<title id=\"b1\">Cost by model</title>"));
        assert!(!bars.contains("x<y"), "names are escaped in the SVG");
    }
}
