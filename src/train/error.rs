//! Why a training run, or reading or writing one of its files, failed.

use super::DataError;
use std::fmt;
use std::string::String;

/// The error of [`Trainer`](super::Trainer) and its files.
#[derive(Debug)]
#[non_exhaustive]
pub enum TrainError {
    /// A field of the [`Config`](super::Config), or the data set given to
    /// [`fit`](super::Trainer::fit), does not fit the rest.
    Config {
        /// The field at fault, such as `layers[2].dropout`.
        field: String,
        /// What is wrong and what would be right.
        reason: String,
    },
    /// The loss became NaN or infinite: training stopped there. The
    /// checkpoint of the last complete epoch, if one is written, is kept.
    NonFinite {
        /// The epoch, counting from 1.
        epoch: u64,
        /// The optimizer step that would have been taken, counting from 1.
        step: u64,
        /// The loss of that step's batch.
        loss: f32,
    },
    /// A kernel rejected its arguments.
    Kernel(crate::Error),
    /// A data set, checkpoint or log could not be read or written, or is
    /// not what it should be.
    Data(DataError),
}

impl TrainError {
    /// A [`TrainError::Config`] for `field`.
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        TrainError::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Config { field, reason } => write!(f, "`{field}`: {reason}"),
            TrainError::NonFinite { epoch, step, loss } => write!(
                f,
                "epoch {epoch}, step {step}: the loss is {loss}; training stopped \
                 (the step size is probably too large)"
            ),
            TrainError::Kernel(e) => write!(f, "{e}"),
            TrainError::Data(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Kernel(e) => Some(e),
            TrainError::Data(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::Error> for TrainError {
    fn from(e: crate::Error) -> Self {
        TrainError::Kernel(e)
    }
}

impl From<DataError> for TrainError {
    fn from(e: DataError) -> Self {
        TrainError::Data(e)
    }
}
