//! The loaders' peak memory is bounded by what a file's header justifies,
//! whatever the file holds: measured with a counting global allocator.
#![cfg(feature = "std")]

use flate2::{Compression, write::GzEncoder};
use microprop::Activation;
use microprop::nn::LayerSpec;
use microprop::train::{Config, Dataset, Trainer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes in use and their peak.
struct Peak;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the same arguments; the
// counters only observe.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let now = IN_USE.fetch_add(new_size, Ordering::Relaxed) + new_size;
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        p
    }
}

#[global_allocator]
static ALLOCATOR: Peak = Peak;

/// The most memory `f` had allocated at once beyond what was in use before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - before)
}

fn idx_header(magic: [u8; 4], dims: &[u32]) -> Vec<u8> {
    let mut v = magic.to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

const MIB: usize = 1 << 20;

// One test, so that no other test allocates while a peak is measured.
#[test]
fn loading_costs_what_the_header_justifies() {
    let dir = std::env::temp_dir().join(format!("microprop-bounded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let labels = idx_header([0, 0, 8, 1], &[1]);
    let labels = [labels, vec![3]].concat();

    // A gzip bomb: one 28 x 28 image, then 64 MiB of zeros, in 64 KiB.
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(&idx_header([0, 0, 8, 3], &[1, 28, 28]))
        .unwrap();
    e.write_all(&vec![0u8; 64 * MIB]).unwrap();
    let bomb = e.finish().unwrap();
    let (r, peak) = peak_of(|| Dataset::from_idx(&bomb, &labels, 10));
    let err = r.unwrap_err().to_string();
    assert!(err.contains("longer than the 784 bytes"), "{err}");
    assert!(peak < MIB, "gzip bomb: {peak} bytes");
    let bomb_path = dir.join("bomb.gz");
    std::fs::write(&bomb_path, &bomb).unwrap();
    let labels_path = dir.join("labels");
    std::fs::write(&labels_path, &labels).unwrap();
    let (r, peak) = peak_of(|| Dataset::load_idx(&bomb_path, &labels_path, 10));
    assert!(r.is_err());
    assert!(peak < MIB, "gzip bomb from a file: {peak} bytes");

    // A checkpoint whose header length claims 2^40 bytes, in 8 bytes.
    let layers = [
        LayerSpec::new(3, Activation::Relu),
        LayerSpec::new(2, Activation::Identity),
    ];
    let mut trainer = Trainer::new(Config::new(2, &layers)).unwrap();
    let claims_path = dir.join("claims.safetensors");
    std::fs::write(&claims_path, (1u64 << 40).to_le_bytes()).unwrap();
    let (r, peak) = peak_of(|| trainer.load(&claims_path));
    assert!(r.is_err());
    assert!(
        peak < 64 * 1024,
        "a header that claims too much: {peak} bytes"
    );

    // A valid checkpoint followed by 64 MiB.
    let long_path = dir.join("long.safetensors");
    let ck = trainer.to_safetensors().unwrap();
    std::fs::write(&long_path, [ck, vec![0; 64 * MIB]].concat()).unwrap();
    let (r, peak) = peak_of(|| trainer.load(&long_path));
    let err = r.unwrap_err().to_string();
    assert!(err.contains("more than the"), "{err}");
    assert!(
        peak < 64 * 1024,
        "a checkpoint with a long tail: {peak} bytes"
    );

    // Endless files.
    #[cfg(unix)]
    {
        let (r, peak) = peak_of(|| trainer.load("/dev/zero"));
        assert!(r.is_err());
        assert!(peak < 64 * 1024, "/dev/zero as a checkpoint: {peak} bytes");
        let (r, peak) = peak_of(|| Dataset::load_idx("/dev/zero", &labels_path, 10));
        assert!(r.is_err());
        assert!(peak < 64 * 1024, "/dev/zero as images: {peak} bytes");
    }

    // A real data set: the peak is within 1.5 times its own size.
    let (d, peak) = peak_of(|| {
        Dataset::load_idx(
            "data/mnist/t10k-images-idx3-ubyte.gz",
            "data/mnist/t10k-labels-idx1-ubyte.gz",
            10,
        )
        .unwrap()
    });
    let size = 4 * (d.inputs().len() + d.labels().len());
    println!("MNIST test set: {size} bytes, peak {peak} bytes while loading");
    assert!(peak <= size * 3 / 2 + MIB, "MNIST: {peak} for {size}");
    std::fs::remove_dir_all(&dir).unwrap();
}
