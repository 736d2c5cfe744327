//! Trains a multilayer perceptron on MNIST (or any IDX data set laid out
//! like it) with `microprop::train::Trainer`, and reports per epoch and on
//! the test set.
//!
//! ```sh
//! cargo run --release --example mnist                      # 784-256-128-10, 10 epochs
//! cargo run --release --example mnist -- --help            # every option
//! cargo run --release --example mnist -- --epochs 12 --resume
//! ```
//!
//! The last `--dev` training images (5,000) are held out as the development
//! set; the test set is scored once, at the end. The output folder
//! (`--out`, default `target/mnist-run`) receives `checkpoint.safetensors`
//! (after every epoch, atomically), `metrics.csv` and `metrics.svg`.

mod cli;
mod plot;
mod progress;

use microprop::simd_backend;
use microprop::train::{CsvLog, Dataset, Trainer};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mnist: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let Some(args) = cli::Args::parse()? else {
        return Ok(());
    };
    let (train, test) =
        Dataset::mnist(&args.data).map_err(|e| format!("--data {}: {e}", args.data.display()))?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("--out {}: {e}", args.out.display()))?;
    let checkpoint = args.out.join("checkpoint.safetensors");
    let config = args.config(train.features(), train.len(), &checkpoint)?;
    let sizes: Vec<String> = std::iter::once(config.inputs)
        .chain(config.layers.iter().map(|l| l.units))
        .map(|n| n.to_string())
        .collect();
    let mut trainer = Trainer::new(config)?;
    println!(
        "{}: {} training, {} development and {} test images; MLP {}, {} parameters; {:?}; \
         SIMD {}; {} thread(s)",
        args.data.display(),
        train.len() - args.dev,
        args.dev,
        test.len(),
        sizes.join("-"),
        trainer.net()?.param_len(),
        trainer.config().weights,
        simd_backend(),
        args.threads,
    );
    if args.resume {
        trainer.load(&checkpoint)?;
        println!(
            "resumed from {} after epoch {}",
            checkpoint.display(),
            trainer.epoch()
        );
    }
    let mut progress = progress::Progress::new(args.epochs);
    let mut log = CsvLog::new(args.out.join("metrics.csv"));
    let mut plot = plot::Plot::new(args.out.join("metrics.svg"));
    trainer.fit(&train, (&mut progress, (&mut log, &mut plot)))?;
    let test = trainer.evaluate(&test)?;
    println!(
        "test accuracy after epoch {}: {:.2}% (loss {:.4}); checkpoint, metrics.csv and \
         metrics.svg in {}",
        trainer.epoch(),
        100.0 * test.accuracy,
        test.loss,
        args.out.display()
    );
    Ok(())
}
