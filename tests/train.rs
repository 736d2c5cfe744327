//! The `std` layer's data sets: IDX loading (valid, truncated and corrupt
//! input), shuffling, gathering and accuracy.
#![cfg(feature = "std")]

use flate2::{Compression, write::GzEncoder};
use microprop::Error;
use microprop::train::{Dataset, accuracy, shuffle};
use rand_core::SeedableRng;
use std::io::Write;

fn idx(magic: [u8; 4], dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Three 2x3 images with pixel values 0..18 and labels 2, 0, 1.
fn small() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..18).map(|i| i * 15).collect();
    (
        idx([0, 0, 8, 3], &[3, 2, 3], &pixels),
        idx([0, 0, 8, 1], &[3], &[2, 0, 1]),
    )
}

#[test]
fn loads_raw_and_gzipped_idx() {
    let (images, labels) = small();
    for (i, l) in [(images.clone(), labels.clone()), (gz(&images), gz(&labels))] {
        let d = Dataset::from_idx(&i, &l, 3).unwrap();
        assert_eq!((d.len(), d.features(), d.classes()), (3, 6, 3));
        assert_eq!(d.labels(), &[2, 0, 1]);
        let expected: Vec<f32> = (0..18).map(|i| (i * 15) as f32 / 255.0).collect();
        assert_eq!(d.inputs(), &expected[..]);
    }
}

#[test]
fn rejects_every_truncation_of_the_gzip_stream() {
    let (images, labels) = small();
    let (gi, gl) = (gz(&images), gz(&labels));
    for cut in 0..gi.len() {
        assert!(
            Dataset::from_idx(&gi[..cut], &gl, 3).is_err(),
            "images cut at {cut} accepted"
        );
    }
    for cut in 0..gl.len() {
        assert!(Dataset::from_idx(&gi, &gl[..cut], 3).is_err());
    }
}

#[test]
fn rejects_corrupt_gzip_streams() {
    let (images, labels) = small();
    let gi = gz(&images);
    // Every single-byte change after the 10-byte gzip header breaks either
    // the deflate stream, the CRC-32 or the length trailer.
    for pos in 10..gi.len() {
        let mut bad = gi.clone();
        bad[pos] ^= 0x41;
        assert!(
            Dataset::from_idx(&bad, &labels, 3).is_err(),
            "corruption at byte {pos} accepted"
        );
    }
}

#[test]
fn rejects_bad_headers_and_lengths() {
    let (images, labels) = small();
    // Raw truncation at every length, and one byte too many.
    for cut in 0..images.len() {
        assert!(Dataset::from_idx(&images[..cut], &labels, 3).is_err());
    }
    for cut in 0..labels.len() {
        assert!(Dataset::from_idx(&images, &labels[..cut], 3).is_err());
    }
    let mut long = images.clone();
    long.push(0);
    assert!(Dataset::from_idx(&long, &labels, 3).is_err());
    // Wrong magic: swapped files, wrong type code, wrong dimension count.
    assert!(Dataset::from_idx(&labels, &images, 3).is_err());
    let mut bad = images.clone();
    bad[2] = 0x09;
    assert!(Dataset::from_idx(&bad, &labels, 3).is_err());
    // Dimensions that overflow, or disagree between the files.
    let huge = idx([0, 0, 8, 3], &[u32::MAX, u32::MAX, u32::MAX], &[]);
    assert!(Dataset::from_idx(&huge, &labels, 3).is_err());
    let two = idx([0, 0, 8, 1], &[2], &[0, 1]);
    assert!(Dataset::from_idx(&images, &two, 3).is_err());
    // A label outside the classes.
    assert!(Dataset::from_idx(&images, &labels, 2).is_err());
}

#[test]
fn images_without_pixels_are_blamed_on_the_image_file() {
    let (_, labels) = small();
    let images = idx([0, 0, 8, 3], &[3, 0, 28], &[]);
    let err = Dataset::from_idx(&images, &labels, 3).unwrap_err();
    assert!(err.to_string().starts_with("images: "), "{err}");
    assert!(err.to_string().contains("0 x 28"), "{err}");
}

#[test]
fn mnist_test_set_has_the_documented_label_counts() {
    let d = Dataset::load_idx(
        "data/mnist/t10k-images-idx3-ubyte.gz",
        "data/mnist/t10k-labels-idx1-ubyte.gz",
        10,
    )
    .unwrap();
    assert_eq!((d.len(), d.features()), (10_000, 784));
    let mut counts = [0; 10];
    for &y in d.labels() {
        counts[y as usize] += 1;
    }
    assert_eq!(
        counts,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert!(d.inputs().iter().all(|&p| (0.0..=1.0).contains(&p)));
}

#[test]
fn shuffle_gather_and_accuracy() {
    let mut rng = rand_xoshiro::Xoshiro128PlusPlus::seed_from_u64(3);
    let mut items: Vec<usize> = (0..100).collect();
    shuffle(&mut items, &mut rng);
    assert_ne!(items, (0..100).collect::<Vec<_>>());
    let mut sorted = items.clone();
    sorted.sort();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());

    let d = Dataset::new(vec![0., 1., 2., 3., 4., 5.], vec![2, 0, 1], 2, 3).unwrap();
    let (mut x, mut y) = ([0.0; 4], [0; 2]);
    d.gather(&[2, 0], &mut x, &mut y).unwrap();
    assert_eq!((x, y), ([4., 5., 0., 1.], [1, 2]));
    assert!(d.gather(&[3, 0], &mut x, &mut y).is_err());
    assert!(d.gather(&[0], &mut x, &mut y).is_err());
    assert!(Dataset::new(vec![0.; 5], vec![0, 0, 0], 2, 3).is_err());
    assert!(Dataset::new(vec![0.; 6], vec![0, 2, 0], 2, 2).is_err());

    let logits = [0.1, 0.9, 0.0, 3.0, 1.0, 2.0, 0.5, 0.5, 0.5];
    assert_eq!(accuracy(&logits, &[1, 0, 0], 3), Ok(3));
    assert_eq!(accuracy(&logits, &[0, 2, 1], 3), Ok(0));
    assert!(accuracy(&logits, &[0, 3, 1], 3).is_err());
    assert!(accuracy(&logits[..8], &[0, 2, 1], 3).is_err());
}

#[test]
fn split_off_holds_out_the_tail() {
    let inputs: Vec<f32> = (0..10).map(|i| i as f32).collect();
    let mut d = Dataset::new(inputs, vec![2, 0, 1, 1, 0], 2, 3).unwrap();
    let err = d.split_off(6).unwrap_err();
    assert!(err.to_string().contains("dataset"), "{err}");
    assert_eq!(d.len(), 5);
    let dev = d.split_off(3).unwrap();
    assert_eq!(
        (d.inputs(), d.labels()),
        (&[0., 1., 2., 3., 4., 5.][..], &[2, 0, 1][..])
    );
    assert_eq!(
        (dev.inputs(), dev.labels()),
        (&[6., 7., 8., 9.][..], &[1, 0][..])
    );
    assert_eq!((dev.features(), dev.classes()), (2, 3));
    assert!(d.split_off(3).unwrap().is_empty());
}

#[test]
fn gather_and_accuracy_check_their_size_products() {
    let wide = Dataset::new(vec![], vec![], 1 << 63, 10).unwrap();
    let mut labels = [99; 2];
    let err = wide.gather(&[5, 7], &mut [], &mut labels).unwrap_err();
    assert_eq!(err, Error::SizeOverflow { arg: "inputs" });
    assert_eq!(labels, [99; 2]);
    assert_eq!(
        accuracy(&[], &[0, 0], 1 << 63),
        Err(Error::SizeOverflow { arg: "logits" })
    );
}

#[test]
fn gather_writes_nothing_when_a_later_index_is_out_of_range() {
    let d = Dataset::new(vec![0., 1., 2., 3., 4., 5.], vec![2, 0, 1], 2, 3).unwrap();
    let (mut x, mut y) = ([9.0; 4], [9; 2]);
    let err = d.gather(&[0, 3], &mut x, &mut y).unwrap_err();
    assert!(err.to_string().contains("indices[1]"), "{err}");
    assert_eq!((x, y), ([9.0; 4], [9; 2]));
}

#[test]
fn accuracy_checks_classes_and_labels_up_front_and_counts_nan_rows_wrong() {
    assert!(matches!(
        accuracy(&[], &[0, 1], 0),
        Err(Error::InvalidParameter { arg: "classes", .. })
    ));
    assert!(accuracy(&[], &[], 0).is_err());
    let err = accuracy(&[0.0; 4], &[0, 2], 2).unwrap_err();
    assert!(err.to_string().contains("labels[1]"), "{err}");
    let nan = f32::NAN;
    assert_eq!(accuracy(&[nan, nan], &[0], 2), Ok(0));
    assert_eq!(accuracy(&[1.0, nan], &[0], 2), Ok(0));
    assert_eq!(accuracy(&[nan, 1.0], &[1], 2), Ok(0));
    assert_eq!(accuracy(&[1.0, 0.0, nan, 1.0], &[0, 1], 2), Ok(1));
}
