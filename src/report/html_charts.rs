//! Charts for the HTML report, drawn by plotters' SVG backend into strings
//! that are inlined in the page (no scripts, no network). Two shapes: lines
//! over an x axis (time series, trends) and horizontal grouped bars (one
//! row per scenario). Lines come out as SVG `<polyline>`s, bars as `<rect>`s,
//! the markers of measured points (sweeps, stages, capacity) as `<circle>`s.

use plotters::prelude::*;

/// Colours used in order for series.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(127, 127, 127),
];

/// One line of a line chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    /// Mark each point with a dot (discrete measurements: a step, a stage,
    /// a pool size), not for dense series such as seconds or a fitted curve.
    pub markers: bool,
}

/// One group of bars (e.g. "p95"), one value per category.
pub struct BarGroup {
    pub name: String,
    pub values: Vec<f64>,
    pub color: RGBColor,
}

const W: u32 = 860;
const H: u32 = 280;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("chart: {e:?}")
}

fn upper(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.1
    } else {
        1.0
    }
}

/// A line chart; empty series are left out; None when there is nothing to draw.
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<Option<String>, String> {
    draw_lines(title, x_desc, y_desc, series, None)
}

/// A line chart over points numbered 1, 2, …, the axis labelled with
/// `x_labels` (e.g. the dates of stored runs) instead of the numbers.
pub fn lines_labelled(
    title: &str,
    x_desc: &str,
    x_labels: &[String],
    y_desc: &str,
    series: &[Series],
) -> Result<Option<String>, String> {
    draw_lines(title, x_desc, y_desc, series, Some(x_labels))
}

/// The label of position `x` (1-based, whole numbers only).
fn label_at(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 1.0 {
        return String::new();
    }
    labels.get(i as usize - 1).cloned().unwrap_or_default()
}

fn draw_lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    x_labels: Option<&[String]>,
) -> Result<Option<String>, String> {
    let drawn: Vec<&Series> = series.iter().filter(|s| !s.points.is_empty()).collect();
    if drawn.is_empty() {
        return Ok(None);
    }
    let all = drawn
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for (x, y) in all {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if drawn.iter().any(|s| s.markers) {
        // Keep the dots at the ends inside the plot.
        let pad = (x1 - x0) * 0.03;
        (x0, x1) = (x0 - pad, x1 + pad);
    }
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0f64..upper(y1))
            .map_err(err)?;
        let by_label = |x: &f64| label_at(x_labels.unwrap_or_default(), *x);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235));
        if let Some(l) = x_labels {
            mesh.x_labels(l.len().clamp(2, 12))
                .x_label_formatter(&by_label);
        }
        mesh.draw().map_err(err)?;
        for s in drawn {
            let c = s.color;
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
                .map_err(err)?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            if s.markers {
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|&(x, y)| Circle::new((x, y), 4, c.filled())),
                    )
                    .map_err(err)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(buf))
}

/// Horizontal grouped bars, one row per category; None when empty.
pub fn bars(
    title: &str,
    x_desc: &str,
    categories: &[String],
    groups: &[BarGroup],
) -> Result<Option<String>, String> {
    if categories.is_empty() || groups.is_empty() {
        return Ok(None);
    }
    let max = groups
        .iter()
        .flat_map(|g| g.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let n = categories.len();
    let height = (60 + n as u32 * (10 + 9 * groups.len() as u32)).max(H);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let cats = categories.to_vec();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(150)
            .build_cartesian_2d(0f64..upper(max), -0.5f64..(n as f64 - 0.5))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < cats.len() {
                    // Row 0 is drawn at the top (see the bars below).
                    cats[cats.len() - 1 - i as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_desc(x_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        let band = 0.8 / groups.len() as f64;
        for (gi, g) in groups.iter().enumerate() {
            let c = g.color;
            let rects = g
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, v)| {
                    // Category i is drawn top-down: row 0 at the top.
                    let row = (n - 1 - i) as f64;
                    let top = row + 0.4 - band * gi as f64;
                    Rectangle::new([(0.0, top), (*v, top - band * 0.9)], c.filled())
                });
            chart
                .draw_series(rects)
                .map_err(err)?
                .label(g.name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_lines_and_bars_as_svg() {
        let s = lines(
            "t",
            "s",
            "ms",
            &[Series {
                name: "a".into(),
                points: (0..10).map(|i| (i as f64, (i * i) as f64)).collect(),
                color: PALETTE[0],
                markers: true,
            }],
        )
        .unwrap()
        .unwrap();
        assert!(s.starts_with("<svg") && s.contains("<polyline"), "{s}");
        assert_eq!(s.matches("<circle").count(), 10, "{s}");
        let b = bars(
            "b",
            "ms",
            &["x<y".into(), "z".into()],
            &[BarGroup {
                name: "p95".into(),
                values: vec![1.0, 2.0],
                color: PALETTE[1],
            }],
        )
        .unwrap()
        .unwrap();
        assert!(b.contains("<rect"));
        assert!(lines("t", "s", "ms", &[]).unwrap().is_none());
    }
}
