//! The crate's error type.
//!
//! Every public function checks its arguments before it touches any data and
//! returns one of these instead of panicking: on a microcontroller a panic is
//! a reset. Each variant carries the name of the argument at fault and the
//! sizes or value involved, so the message says what to fix.

use core::fmt;

/// What went wrong, and with which argument.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A slice's length differs from the one the other arguments imply.
    LengthMismatch {
        /// The argument at fault.
        arg: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// A buffer (workspace, optimizer state, mask, matrix storage) is shorter
    /// than the operation needs.
    BufferTooSmall {
        /// The argument at fault.
        arg: &'static str,
        /// The smallest length that works.
        needed: usize,
        /// The length it has.
        found: usize,
    },
    /// Two matrix shapes that must agree do not.
    ShapeMismatch {
        /// The argument at fault.
        arg: &'static str,
        /// The shape it must have, as (rows, columns).
        expected: (usize, usize),
        /// The shape it has.
        found: (usize, usize),
    },
    /// A scalar argument or hyperparameter is outside its valid range.
    InvalidParameter {
        /// The argument or configuration field at fault.
        arg: &'static str,
        /// Its value.
        value: f64,
        /// The condition it must meet, for example `"in [0, 1)"`.
        expected: &'static str,
    },
    /// An element of an index-valued input (a class label) is out of range.
    IndexOutOfRange {
        /// The argument at fault.
        arg: &'static str,
        /// Where in the argument the bad index is.
        position: usize,
        /// The bad index.
        index: usize,
        /// The exclusive upper bound it must stay below.
        bound: usize,
    },
    /// A value that must be finite is NaN or infinite (a gradient norm, a
    /// loss).
    NonFinite {
        /// The quantity at fault.
        arg: &'static str,
        /// Its value.
        value: f64,
    },
    /// A size computed from the arguments does not fit in `usize`.
    SizeOverflow {
        /// The argument whose size overflowed.
        arg: &'static str,
    },
}

/// `core::result::Result` with this crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::LengthMismatch {
                arg,
                expected,
                found,
            } => write!(f, "`{arg}` has length {found}, expected {expected}"),
            Error::BufferTooSmall { arg, needed, found } => write!(
                f,
                "`{arg}` has length {found}, but at least {needed} is needed"
            ),
            Error::ShapeMismatch {
                arg,
                expected,
                found,
            } => write!(
                f,
                "`{arg}` is {}x{}, expected {}x{}",
                found.0, found.1, expected.0, expected.1
            ),
            Error::InvalidParameter {
                arg,
                value,
                expected,
            } => write!(f, "`{arg}` is {value}, but must be {expected}"),
            Error::IndexOutOfRange {
                arg,
                position,
                index,
                bound,
            } => write!(
                f,
                "`{arg}[{position}]` is {index}, but must be less than {bound}"
            ),
            Error::NonFinite { arg, value } => write!(f, "`{arg}` is {value}, not finite"),
            Error::SizeOverflow { arg } => write!(f, "the size of `{arg}` overflows usize"),
        }
    }
}

impl core::error::Error for Error {}

/// Returns [`Error::LengthMismatch`] unless `found == expected`.
pub(crate) fn check_len(arg: &'static str, found: usize, expected: usize) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            arg,
            expected,
            found,
        })
    }
}

/// Returns [`Error::BufferTooSmall`] unless `found >= needed`.
pub(crate) fn check_capacity(arg: &'static str, found: usize, needed: usize) -> Result<()> {
    if found >= needed {
        Ok(())
    } else {
        Err(Error::BufferTooSmall { arg, needed, found })
    }
}

/// Returns [`Error::InvalidParameter`] naming `arg` unless `value` is
/// finite and `>= 0` (a learning rate, a gain, a bound, a scale).
pub(crate) const fn check_non_negative(arg: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value,
            expected: "finite and >= 0",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn messages_name_the_argument_and_the_sizes() {
        let e = check_len("grad", 7, 8).unwrap_err();
        assert_eq!(e.to_string(), "`grad` has length 7, expected 8");
        let e = check_capacity("workspace", 3, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`workspace` has length 3, but at least 10 is needed"
        );
        let e = Error::InvalidParameter {
            arg: "p",
            value: 1.5,
            expected: "in [0, 1]",
        };
        assert_eq!(e.to_string(), "`p` is 1.5, but must be in [0, 1]");
        let e = Error::IndexOutOfRange {
            arg: "labels",
            position: 3,
            index: 12,
            bound: 10,
        };
        assert_eq!(e.to_string(), "`labels[3]` is 12, but must be less than 10");
        assert!(check_len("x", 4, 4).is_ok());
        assert!(check_capacity("x", 5, 4).is_ok());
    }
}
