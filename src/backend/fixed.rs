//! The kernels' macros where the instruction set is fixed when the crate is
//! compiled: off x86-64, without `std`, or with a forced width. Their
//! run-time counterparts, with the reasoning, are in `backend/x86.rs`.

/// Evaluates `$body` with `$V` bound to [`F32s`](super::F32s), the only
/// vector type here.
macro_rules! dispatch {
    ($V:ident => $body:expr) => {
        $crate::backend::with_vector!($V = $crate::backend::F32s => $body)
    };
}

pub(crate) use dispatch;

/// A closure of a kernel, left to the inliner.
macro_rules! inlined {
    ($closure:expr) => {
        $closure
    };
}

pub(crate) use inlined;

/// `$value` for [`F32s`](super::F32s), the only vector type here.
macro_rules! largest {
    ($V:ident => $value:expr) => {{
        type $V = $crate::backend::F32s;
        $value
    }};
}

pub(crate) use largest;
