//! Every experiment of `examples/experiments` in its quick mode (a data
//! subset, one epoch, tiny grids), writing its page into a temporary
//! folder: the code path of every committed page, on every CI run.

#[path = "../examples/experiments/suite/mod.rs"]
mod suite;

use std::path::PathBuf;

#[test]
fn every_experiment_runs_quick_and_writes_its_page() {
    let out = std::env::temp_dir().join(format!("microprop-experiments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let ctx = suite::Ctx {
        quick: true,
        data: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist"),
        out: out.clone(),
    };
    for name in suite::NAMES {
        suite::run(name, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        let page = std::fs::read_to_string(out.join(name).join("README.md")).unwrap();
        assert!(page.contains(&format!("-- {name} --quick")), "{page}");
        assert!(page.contains("| status | complete |"), "{page}");
        let plots = std::fs::read_dir(out.join(name))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "svg")
            })
            .count();
        assert!(plots > 0, "{name} drew no plot");
    }
    std::fs::remove_dir_all(&out).unwrap();
}
