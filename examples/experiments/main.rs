//! Reproduces the classic evidence behind back-propagation practice with
//! the crate's trainer, each experiment beside the paper's numbers, and
//! writes a page with plots per experiment into `docs/experiments/NAME/`.
//!
//! ```sh
//! cargo run --release --example experiments -- adadelta        # one experiment
//! cargo run --release --example experiments -- all             # all six, cheapest first
//! cargo run --release --example experiments -- vanishing --quick
//! ```
//!
//! `--quick` runs a data subset for one epoch over tiny grids, into
//! `target/experiments/` unless `--out` says otherwise; the test
//! `tests/experiments.rs` runs every experiment so.

mod suite;

use std::path::PathBuf;
use std::process::ExitCode;

const HELP: &str = "\
Runs an experiment through the trainer and writes its page and plots.

usage: cargo run --release --example experiments -- NAME [OPTIONS]

  NAME          adadelta, vanishing, memorization, regularization, weight-decay,
                optimizers, or all
  --quick       a data subset, one epoch, tiny grids (the test's mode)
  --data DIR    the MNIST IDX files [data/mnist]
  --out DIR     where NAME/README.md and the plots go
                [docs/experiments; target/experiments with --quick]
  -h, --help    this text
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("experiments: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let (mut name, mut quick, mut data, mut out) = (None, false, None, None);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("quick") => quick = true,
            Long("data") => data = Some(PathBuf::from(parser.value()?)),
            Long("out") => out = Some(PathBuf::from(parser.value()?)),
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(());
            }
            Value(v) if name.is_none() => name = Some(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let name = name.ok_or("which experiment? (--help lists them)")?;
    let names: Vec<&str> = match name.as_str() {
        "all" => suite::NAMES.to_vec(),
        n if suite::NAMES.contains(&n) => vec![n],
        n => return Err(format!("no experiment {n:?} (--help lists them)").into()),
    };
    let default_out = if quick {
        "target/experiments"
    } else {
        "docs/experiments"
    };
    let ctx = suite::Ctx {
        quick,
        data: data.unwrap_or_else(|| PathBuf::from("data/mnist")),
        out: out.unwrap_or_else(|| PathBuf::from(default_out)),
    };
    for n in names {
        suite::run(n, &ctx)?;
    }
    Ok(())
}
