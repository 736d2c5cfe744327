//! The experiments, shared by the example and its test.

mod adadelta;
mod lab;
mod memorization;
mod optimizers;
mod plot;
mod regularization;
mod vanishing;
mod weight_decay;

pub use lab::Ctx;

/// Every experiment, cheapest first.
pub const NAMES: [&str; 6] = [
    "vanishing",
    "weight-decay",
    "memorization",
    "regularization",
    "optimizers",
    "adadelta",
];

/// Runs the experiment `name` and writes its page.
pub fn run(name: &str, ctx: &Ctx) -> lab::Result<()> {
    println!("== {name}{}", if ctx.quick { " (quick)" } else { "" });
    match name {
        "vanishing" => vanishing::run(ctx),
        "weight-decay" => weight_decay::run(ctx),
        "memorization" => memorization::run(ctx),
        "regularization" => regularization::run(ctx),
        "optimizers" => optimizers::run(ctx),
        "adadelta" => adadelta::run(ctx),
        _ => Err(format!("no experiment {name:?}").into()),
    }
}
