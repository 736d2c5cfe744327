//! Matrix views: a slice the caller owns, a shape, and two strides.
//!
//! Element `(i, j)` of a view lives at `data[i * row_stride + j * col_stride]`.
//! A view made by a constructor is row-major (`col_stride == 1`); [`MatRef::t`]
//! and [`MatMut::t`] transpose it by swapping the strides, so one of the two
//! strides is always 1. Constructors check once that the slice covers every
//! element of the view; after that, no access through the view can go out of
//! bounds.

use crate::error::{Error, Result};

/// Checks the stride and coverage of a row-major `rows x cols` view with
/// `row_stride`, and returns the number of elements it spans.
fn check_view(len: usize, rows: usize, cols: usize, row_stride: usize) -> Result<usize> {
    if row_stride < cols {
        return Err(Error::InvalidParameter {
            arg: "row_stride",
            value: row_stride as f64,
            expected: "at least the number of columns",
        });
    }
    let needed = if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1)
            .checked_mul(row_stride)
            .and_then(|x| x.checked_add(cols))
            .ok_or(Error::SizeOverflow { arg: "data" })?
    };
    if len < needed {
        return Err(Error::BufferTooSmall {
            arg: "data",
            needed,
            found: len,
        });
    }
    Ok(needed)
}

/// A read-only view of a `rows x cols` matrix of `f32` in a caller's slice.
///
/// Row-major with a row stride (the distance between the starts of two
/// consecutive rows, at least `cols`); [`MatRef::t`] gives the transpose
/// without copying. Empty views (a zero dimension) are valid.
///
/// ```
/// use microprop::MatRef;
/// // A 2x3 matrix stored in rows of 4 (the last element of each row unused).
/// let data = [1.0, 2.0, 3.0, 0.0, 4.0, 5.0, 6.0];
/// let a = MatRef::strided(&data, 2, 3, 4)?;
/// assert_eq!(a.get(1, 2), Some(6.0));
/// assert_eq!(a.t().get(2, 1), Some(6.0));
/// assert!(MatRef::new(&data[..5], 2, 3).is_err()); // 5 < 2 * 3
/// # Ok::<(), microprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows x cols` view of the start of `data` (row stride
    /// `cols`).
    ///
    /// Fails if `data` is shorter than `rows * cols` or that product
    /// overflows.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::strided(data, rows, cols, cols)
    }

    /// A row-major `rows x cols` view whose rows start `row_stride` elements
    /// apart.
    ///
    /// Fails if `row_stride < cols`, if `data` is shorter than
    /// `(rows - 1) * row_stride + cols`, or if that size overflows.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Result<Self> {
        let len = check_view(data.len(), rows, cols, row_stride)?;
        Ok(Self {
            data: &data[..len],
            rows,
            cols,
            rs: row_stride,
            cs: 1,
        })
    }

    /// [`MatRef::new`] for `data` known to be `rows * cols` long.
    #[inline(always)]
    pub(crate) fn whole(data: &'a [f32], rows: usize, cols: usize) -> Self {
        debug_assert_eq!(data.len(), rows * cols);
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, a `cols x rows` view of the same data.
    #[must_use]
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Element `(i, j)`, or `None` outside the view.
    pub fn get(&self, i: usize, j: usize) -> Option<f32> {
        (i < self.rows && j < self.cols).then(|| self.data[i * self.rs + j * self.cs])
    }

    /// Row `i` from column `j0` on, `len` elements; needs `cs == 1`.
    #[inline(always)]
    pub(crate) fn row_segment(&self, i: usize, j0: usize, len: usize) -> &'a [f32] {
        debug_assert!(self.cs == 1 && i < self.rows && j0 + len <= self.cols);
        &self.data[i * self.rs + j0..][..len]
    }

    /// The view of rows `r0..r0 + rows`.
    #[cfg(feature = "parallel")]
    pub(crate) fn sub_rows(self, r0: usize, rows: usize) -> Self {
        debug_assert!(r0 + rows <= self.rows);
        let start = if rows == 0 { 0 } else { r0 * self.rs };
        Self {
            data: &self.data[start..],
            rows,
            ..self
        }
    }

    /// The view of columns `c0..c0 + cols`.
    #[cfg(feature = "parallel")]
    pub(crate) fn sub_cols(self, c0: usize, cols: usize) -> Self {
        debug_assert!(c0 + cols <= self.cols);
        let start = if cols == 0 || self.rows == 0 {
            0
        } else {
            c0 * self.cs
        };
        Self {
            data: &self.data[start..],
            cols,
            ..self
        }
    }
}

/// A mutable view of a `rows x cols` matrix of `f32` in a caller's slice.
///
/// The same layout as [`MatRef`]: row-major with a row stride, transposed by
/// [`MatMut::t`]. Elements between the end of one row and the start of the
/// next are never touched by this crate.
#[derive(Debug)]
pub struct MatMut<'a> {
    pub(crate) data: &'a mut [f32],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

impl<'a> MatMut<'a> {
    /// A row-major `rows x cols` view of the start of `data` (row stride
    /// `cols`).
    ///
    /// Fails if `data` is shorter than `rows * cols` or that product
    /// overflows.
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::strided(data, rows, cols, cols)
    }

    /// A row-major `rows x cols` view whose rows start `row_stride` elements
    /// apart.
    ///
    /// Fails if `row_stride < cols`, if `data` is shorter than
    /// `(rows - 1) * row_stride + cols`, or if that size overflows.
    pub fn strided(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
    ) -> Result<Self> {
        let len = check_view(data.len(), rows, cols, row_stride)?;
        Ok(Self {
            data: &mut data[..len],
            rows,
            cols,
            rs: row_stride,
            cs: 1,
        })
    }

    /// [`MatMut::new`] for `data` known to be `rows * cols` long.
    #[inline(always)]
    pub(crate) fn whole(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        debug_assert_eq!(data.len(), rows * cols);
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, a `cols x rows` view of the same data.
    #[must_use]
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            data: self.data,
        }
    }

    /// Rows `i0..i0 + rows` as one slice, if they are contiguous in
    /// memory (row-major with no gap between rows).
    pub(crate) fn rows_mut(&mut self, i0: usize, rows: usize) -> Option<&mut [f32]> {
        debug_assert!(i0 + rows <= self.rows);
        (self.cs == 1 && self.rs == self.cols)
            .then(|| &mut self.data[i0 * self.rs..][..rows * self.cols])
    }

    /// A shorter-lived mutable view of the same matrix (a reborrow), so the
    /// view can be passed to a function and used again afterwards.
    pub fn rb_mut(&mut self) -> MatMut<'_> {
        MatMut {
            data: &mut *self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// A read-only view of the same matrix.
    pub fn rb(&self) -> MatRef<'_> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Element `(i, j)`, or `None` outside the view.
    pub fn get(&self, i: usize, j: usize) -> Option<f32> {
        self.rb().get(i, j)
    }

    /// A mutable reference to element `(i, j)`, or `None` outside the view.
    pub fn get_mut(&mut self, i: usize, j: usize) -> Option<&mut f32> {
        (i < self.rows && j < self.cols).then(|| &mut self.data[i * self.rs + j * self.cs])
    }

    /// Row `i` from column `j0` on, `len` elements; needs `cs == 1`.
    #[inline(always)]
    pub(crate) fn row_segment(&mut self, i: usize, j0: usize, len: usize) -> &mut [f32] {
        debug_assert!(self.cs == 1 && i < self.rows && j0 + len <= self.cols);
        &mut self.data[i * self.rs + j0..][..len]
    }

    /// The view of the first `cols` columns.
    #[cfg(feature = "parallel")]
    pub(crate) fn first_cols(self, cols: usize) -> MatMut<'a> {
        debug_assert!(cols <= self.cols);
        MatMut { cols, ..self }
    }

    /// Splits a row-major view into rows `0..r` and `r..`.
    #[cfg(feature = "parallel")]
    pub(crate) fn split_rows(self, r: usize) -> (MatMut<'a>, MatMut<'a>) {
        debug_assert!(self.cs == 1 && r <= self.rows);
        let MatMut {
            data,
            rows,
            cols,
            rs,
            cs,
        } = self;
        let (top, bottom) = data.split_at_mut((r * rs).min(data.len()));
        let part = |data, rows| MatMut {
            data,
            rows,
            cols,
            rs,
            cs,
        };
        (part(top, r), part(bottom, rows - r))
    }
}
