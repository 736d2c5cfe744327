//! Line charts as SVG.

use super::lab::Result;
use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;
use std::path::Path;

/// One line: a label and its points; non-finite points are left out.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Drawn thin and pale, as a companion of the line before it.
    pub faint: bool,
}

impl Series {
    /// A line of `points`.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            faint: false,
        }
    }
}

/// A chart of `series` in `path`: a log-scale y axis if `log_y`.
pub fn lines(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    series: &[Series],
    log_y: bool,
) -> Result<()> {
    let finite = |&&(x, y): &&(f64, f64)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().filter(finite).copied())
        .collect();
    let range = |v: &mut dyn Iterator<Item = f64>| {
        v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        })
    };
    let (x0, x1) = range(&mut all.iter().map(|p| p.0));
    let (y0, y1) = range(&mut all.iter().map(|p| p.1));
    let (x0, x1) = if x0 < x1 {
        (x0, x1)
    } else {
        (x0 - 1.0, x0 + 1.0)
    };
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root);
    chart
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    if log_y {
        let (y0, y1) = if y0 < y1 {
            (y0, y1)
        } else {
            (y0 / 2.0, y0 * 2.0)
        };
        let mut c = chart.build_cartesian_2d(x0..x1, (y0 / 1.5..y1 * 1.5).log_scale())?;
        c.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw()?;
        draw(&mut c, series, finite)?;
    } else {
        let pad = ((y1 - y0) * 0.05).max(1e-6);
        let mut c = chart.build_cartesian_2d(x0..x1, y0 - pad..y1 + pad)?;
        c.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw()?;
        draw(&mut c, series, finite)?;
    }
    root.present()?;
    Ok(())
}

/// Draws every series with its legend entry.
fn draw<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    series: &[Series],
    finite: impl Fn(&&(f64, f64)) -> bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut color = 0usize;
    for s in series {
        if !s.faint {
            color += 1;
        }
        let c = Palette99::pick(color.saturating_sub(1));
        let style = if s.faint {
            c.mix(0.45).stroke_width(1)
        } else {
            c.stroke_width(2)
        };
        let points: Vec<(f64, f64)> = s.points.iter().filter(&finite).copied().collect();
        chart
            .draw_series(LineSeries::new(points, style))?
            .label(&s.label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}
