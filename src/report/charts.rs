//! Charts of the audit report, as inline SVG drawn by plotters: metric
//! histories of the training run, and drift over time per monitor. Inline,
//! so the report stays one self-contained file; text as SVG `<text>`, so it
//! prints sharp and is searchable; kept whole across printed pages by the
//! template's CSS.

use plotters::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub title: String,
    pub svg: String,
}

const SIZE: (u32, u32) = (640, 220);

/// A line chart of `(x, y)` points with axis labels, and an optional
/// horizontal threshold line.
pub fn line(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[(f64, f64)],
    threshold: Option<f64>,
) -> Option<Chart> {
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if finite.len() < 2 {
        return None;
    }
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for (x, y) in finite
        .iter()
        .chain(threshold.map(|t| (finite[0].0, t)).iter())
    {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.08).max(1e-9);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(54)
            .build_cartesian_2d(x0..x1, y0..y1)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .ok()?;
        chart
            .draw_series(LineSeries::new(
                finite.iter().copied(),
                RGBColor(60, 110, 200).stroke_width(2),
            ))
            .ok()?;
        if let Some(t) = threshold {
            chart
                .draw_series(LineSeries::new([(x0, t), (x1, t)], RGBColor(190, 30, 30)))
                .ok()?;
        }
        root.present().ok()?;
    }
    Some(Chart {
        title: title.to_string(),
        svg,
    })
}
