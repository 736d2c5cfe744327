//! `metrics.svg`: loss and accuracy per epoch, training against
//! development, redrawn after every epoch.

use microprop::train::{DataError, History, Observer, TrainError};
use plotters::prelude::*;
use std::ops::ControlFlow;
use std::path::PathBuf;

pub struct Plot {
    path: PathBuf,
}

impl Plot {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    fn draw(&self, history: &History) -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(&self.path, (1000, 400)).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(500);
        let epochs = history.epochs.len() as f64;
        let panels = [
            (
                left,
                "loss",
                &(|e: &microprop::train::Epoch| (e.train_loss, e.dev_loss)) as &dyn Fn(&_) -> _,
            ),
            (right, "accuracy", &|e: &microprop::train::Epoch| {
                (e.train_accuracy, e.dev_accuracy)
            }),
        ];
        for (area, name, pick) in panels {
            let points: Vec<(f64, f64, f64)> = history
                .epochs
                .iter()
                .map(|e| {
                    let (t, d) = pick(e);
                    (e.epoch as f64, t, d)
                })
                .collect();
            let values = points
                .iter()
                .flat_map(|p| [p.1, p.2])
                .filter(|v| v.is_finite());
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            let pad = ((hi - lo) * 0.05).max(1e-6);
            let mut chart = ChartBuilder::on(&area)
                .caption(name, ("sans-serif", 20))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(50)
                .build_cartesian_2d(1.0..epochs.max(2.0), (lo - pad)..(hi + pad))?;
            chart.configure_mesh().x_desc("epoch").draw()?;
            for (label, color, column) in [("training", BLUE, 1), ("development", RED, 2)] {
                let line = points
                    .iter()
                    .map(|p| (p.0, if column == 1 { p.1 } else { p.2 }))
                    .filter(|p| p.1.is_finite());
                chart
                    .draw_series(LineSeries::new(line, color))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE)
                .border_style(BLACK)
                .draw()?;
        }
        root.present()?;
        Ok(())
    }
}

impl Observer for Plot {
    fn on_epoch(&mut self, history: &History) -> Result<ControlFlow<()>, TrainError> {
        self.draw(history).map_err(|e| DataError::Format {
            what: self.path.display().to_string(),
            reason: format!("cannot draw the plot: {e}"),
        })?;
        Ok(ControlFlow::Continue(()))
    }
}
