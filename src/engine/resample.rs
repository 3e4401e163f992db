//! Lanczos resizing that reproduces Pillow's `Image.resize(size, Image.LANCZOS)`
//! byte for byte on 8-bit `L` and `RGB` images.
//!
//! The reference masks are defined by a Python pipeline's output, so "close
//! enough" resampling is not good enough: every rounding step of Pillow's
//! `libImaging/Resample.c` is mirrored here, in the same order, with the same
//! types.
//!
//! The target is Pillow 12.x (scripts/requirements.txt pins 12.3.0), which
//! always filters horizontally first. Pillow 13.0 filters vertically first
//! when the height shrinks by more than twice as many pixels as the width
//! (e.g. any shape where the width grows and the height shrinks), which
//! changes those outputs by up to ~20 levels on ordinary photos; revisit this
//! module if the pin moves.

use std::f64::consts::PI;

/// Fixed-point fraction bits of the integer coefficients. Pillow keeps 8 bits
/// for the pixel value and 2 bits of headroom (Lanczos has negative lobes, so
/// partial sums can dip below zero or overshoot 255), leaving 22 bits inside an
/// `i32`. Matching this exactly is what makes the output bit-identical.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Starting value of every accumulator: adding one half before the final
/// arithmetic shift turns the shift's floor into round-half-up.
const ROUNDING: i32 = 1 << (PRECISION_BITS - 1);

/// Lanczos-3 reaches three source pixels either side of the sample centre.
const SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * PI;
        x.sin() / x
    }
}

fn lanczos(x: f64) -> f64 {
    // Half-open on purpose: Pillow accepts -3 but not +3.
    if (-SUPPORT..SUPPORT).contains(&x) {
        sinc(x) * sinc(x / SUPPORT)
    } else {
        0.0
    }
}

/// Pillow's `clip8`: a lookup table indexed by `value >> PRECISION_BITS` that
/// saturates to 0..=255. The table only covers -640..=639, a range Lanczos
/// sums on 8-bit input never leave (see `accumulators_cannot_overflow`), so a
/// clamp is equivalent.
#[inline(always)]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Rounds a normalised `f64` weight to fixed point the way Pillow's
/// `normalize_coeffs_8bpc` does: half away from zero, then truncation toward
/// zero (a C `(int)` cast, which Rust's `as i32` also performs).
fn to_fixed(weight: f64) -> i32 {
    let scaled = weight * f64::from(1u32 << PRECISION_BITS);
    if weight < 0.0 {
        (scaled - 0.5) as i32
    } else {
        (scaled + 0.5) as i32
    }
}

/// The filter taps for one axis, computed once and shared by every row (or
/// column) so the pixel loops are pure integer multiply-adds.
struct Kernel {
    /// Row stride of `weights`; Pillow's `ksize`, the widest possible window.
    stride: usize,
    /// Per output position: first source index and number of taps.
    windows: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

impl Kernel {
    /// Mirrors Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`
    /// for the box `(0, in_size)`.
    fn new(in_size: u32, out_size: u32) -> Self {
        // Pillow receives the box as C `float`s and subtracts them in single
        // precision before widening; doing the same keeps huge sizes identical.
        let (in0, in1) = (0.0f32, in_size as f32);
        let scale = f64::from(in1 - in0) / f64::from(out_size);
        // Downscaling widens the filter so every source pixel contributes;
        // upscaling keeps its natural width.
        let filterscale = if scale < 1.0 { 1.0 } else { scale };
        let support = SUPPORT * filterscale;
        let stride = support.ceil() as usize * 2 + 1;
        // Pillow multiplies by the reciprocal rather than dividing by the
        // scale; the two can differ in the last bit, so do the same.
        let inv_filterscale = 1.0 / filterscale;

        let out_len = out_size as usize;
        let mut windows = Vec::with_capacity(out_len);
        let mut weights = vec![0i32; out_len * stride];
        let mut taps = vec![0f64; stride];
        for (xx, fixed) in weights.chunks_exact_mut(stride).enumerate() {
            let center = f64::from(in0) + (xx as f64 + 0.5) * scale;
            // `(int)(v + 0.5)` in C truncates toward zero, so this is not
            // `round()` for negative values; only the clamp hides that.
            let first = ((center - support + 0.5) as i32).max(0);
            let end = ((center + support + 0.5) as i32).min(in_size as i32);
            let count = (end - first).max(0) as usize;

            let taps = &mut taps[..count];
            let mut total = 0.0;
            for (x, tap) in taps.iter_mut().enumerate() {
                // The index is summed as an integer before widening, as in C.
                let offset = f64::from(x as i32 + first) - center + 0.5;
                *tap = lanczos(offset * inv_filterscale);
                total += *tap;
            }
            // Dividing (not multiplying by 1/total) and summing in tap order
            // both decide the last bit of a weight, which can survive the
            // rounding to fixed point.
            if total != 0.0 {
                taps.iter_mut().for_each(|tap| *tap /= total);
            }
            for (dst, &tap) in fixed.iter_mut().zip(taps.iter()) {
                *dst = to_fixed(tap);
            }
            windows.push((first as usize, count));
        }
        Self {
            stride,
            windows,
            weights,
        }
    }

    fn taps(&self, index: usize) -> (usize, &[i32]) {
        let (first, count) = self.windows[index];
        let start = index * self.stride;
        (first, &self.weights[start..start + count])
    }
}

/// Resizes an interleaved 8-bit image with `channels` channels (1 or 3) exactly as Pillow's LANCZOS does.
///
/// # Panics
///
/// If `channels` is not 1 or 3, if `pixels` does not hold exactly
/// `width * height * channels` bytes, or if a target dimension is zero (Pillow
/// raises `ValueError` for the latter).
pub fn resize_lanczos(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: usize,
    new_width: u32,
    new_height: u32,
) -> Vec<u8> {
    assert!(
        channels == 1 || channels == 3,
        "resize_lanczos supports 1 or 3 channels, got {channels}"
    );
    assert_eq!(
        pixels.len(),
        width as usize * height as usize * channels,
        "pixel buffer does not match {width}x{height}x{channels}"
    );
    assert!(
        new_width > 0 && new_height > 0,
        "target size {new_width}x{new_height} must be positive"
    );

    // `Image.resize` returns a plain copy before reaching the C code.
    if (width, height) == (new_width, new_height) {
        return pixels.to_vec();
    }
    let out_len = new_width as usize * new_height as usize * channels;
    // Pillow yields a black image here: every window is empty, so each
    // accumulator keeps only its rounding term, which clips to 0.
    if pixels.is_empty() {
        return vec![0; out_len];
    }

    let need_horizontal = new_width != width;
    let need_vertical = new_height != height;

    // The vertical kernel is built first because it tells the horizontal pass
    // which source rows the vertical pass will read. Pillow filters only that
    // band so that resizing a sub-box skips unused rows; with the whole image
    // as the box the band always spans every row, but following the same
    // steps keeps the port auditable against the C code.
    let vertical = Kernel::new(height, new_height);
    let band_first = vertical.windows[0].0;
    let band_end = {
        let &(first, count) = vertical.windows.last().expect("new_height > 0");
        first + count
    };

    let row_len = width as usize * channels;
    if !need_horizontal {
        let mut out = vec![0; out_len];
        vertical_pass(pixels, row_len, 0, &vertical, &mut out);
        return out;
    }

    let horizontal = Kernel::new(width, new_width);
    let band = &pixels[band_first * row_len..band_end * row_len];
    let temp_row_len = new_width as usize * channels;
    let mut temp = vec![0; (band_end - band_first) * temp_row_len];
    match channels {
        1 => horizontal_pass::<1>(band, row_len, &horizontal, &mut temp),
        _ => horizontal_pass::<3>(band, row_len, &horizontal, &mut temp),
    }
    if !need_vertical {
        // With an unchanged height the band is the whole image.
        debug_assert_eq!(temp.len(), out_len);
        return temp;
    }
    let mut out = vec![0; out_len];
    vertical_pass(&temp, temp_row_len, band_first, &vertical, &mut out);
    out
}

/// Filters every row of `src` along x into `dst`. The channel count is a
/// const generic so the per-channel accumulators live in registers and the
/// compiler can unroll the channel loop.
fn horizontal_pass<const C: usize>(
    src: &[u8],
    src_row_len: usize,
    kernel: &Kernel,
    dst: &mut [u8],
) {
    let dst_row_len = kernel.windows.len() * C;
    for (src_row, dst_row) in src
        .chunks_exact(src_row_len)
        .zip(dst.chunks_exact_mut(dst_row_len))
    {
        for (xx, out_px) in dst_row.chunks_exact_mut(C).enumerate() {
            let (first, weights) = kernel.taps(xx);
            let window = &src_row[first * C..(first + weights.len()) * C];
            let mut acc = [ROUNDING; C];
            for (px, &w) in window.chunks_exact(C).zip(weights) {
                for c in 0..C {
                    acc[c] += i32::from(px[c]) * w;
                }
            }
            for c in 0..C {
                out_px[c] = clip8(acc[c]);
            }
        }
    }
}

/// Filters along y. `row_offset` is the index of `src`'s first row in the
/// coordinates the kernel was built for (non-zero when `src` is the
/// horizontally filtered band rather than the full image).
///
/// Each output row accumulates whole source rows into an `i32` buffer. The
/// integer sums are exact, so this row-at-a-time order gives the same result
/// as Pillow's pixel-at-a-time loop while streaming memory contiguously.
fn vertical_pass(src: &[u8], row_len: usize, row_offset: usize, kernel: &Kernel, dst: &mut [u8]) {
    let mut acc = vec![0i32; row_len];
    for (yy, dst_row) in dst.chunks_exact_mut(row_len).enumerate() {
        let (first, weights) = kernel.taps(yy);
        acc.fill(ROUNDING);
        for (y, &w) in (first - row_offset..).zip(weights) {
            let src_row = &src[y * row_len..(y + 1) * row_len];
            for (a, &p) in acc.iter_mut().zip(src_row) {
                *a += i32::from(p) * w;
            }
        }
        for (out, &a) in dst_row.iter_mut().zip(&acc) {
            *out = clip8(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs of `Image.frombytes(mode, (w, h), bytes(input)).resize((nw, nh), Image.LANCZOS)`
    /// under Pillow 12.3.0 (the version pinned in scripts/requirements.txt).
    fn assert_pillow(
        channels: usize,
        (w, h): (u32, u32),
        input: &[u8],
        (nw, nh): (u32, u32),
        expected: &[u8],
    ) {
        assert_eq!(
            resize_lanczos(input, w, h, channels, nw, nh),
            expected,
            "{w}x{h}x{channels} -> {nw}x{nh}"
        );
    }

    #[test]
    fn matches_pillow_downscale() {
        let input = [
            0, 53, 106, 159, 91, 161, 231, 45, 182, 13, 100, 187, 17, 121, 225, 73,
        ];
        assert_pillow(1, (4, 4), &input, (3, 2), &[66, 128, 131, 89, 131, 140]);
    }

    #[test]
    fn matches_pillow_upscale() {
        let expected = [
            0, 1, 37, 119, 215, 255, 255, 5, 35, 99, 164, 169, 141, 128, 10, 69, 161, 209, 122, 8,
            0,
        ];
        assert_pillow(1, (3, 2), &[0, 128, 255, 40, 200, 10], (7, 3), &expected);
    }

    #[test]
    fn matches_pillow_single_pass() {
        let line = [10, 250, 30, 220, 50, 190];
        assert_pillow(1, (6, 1), &line, (4, 1), &[105, 142, 126, 134]);
        assert_pillow(1, (1, 6), &line, (1, 4), &[105, 142, 126, 134]);
    }

    /// Overshoot past 0 and 255 must saturate, not wrap.
    #[test]
    fn matches_pillow_clipping() {
        let checker = [0, 255, 0, 255, 0, 255, 0, 255, 0];
        let expected = [
            0, 105, 255, 105, 0, 110, 125, 145, 125, 110, 255, 145, 0, 145, 255, 110, 125, 145,
            125, 110, 0, 105, 255, 105, 0,
        ];
        assert_pillow(1, (3, 3), &checker, (5, 5), &expected);
    }

    /// Width grows while height shrinks: Pillow 12 still filters horizontally
    /// first, whereas Pillow 13 switched to vertical-first for such shapes and
    /// gives different bytes here. Failing this means the pin moved.
    #[test]
    fn matches_pillow_rgb_pass_order() {
        let input: Vec<u8> = (0..36).map(|i| ((i * 37 + 11) % 256) as u8).collect();
        let expected = [
            9, 35, 85, 65, 119, 119, 160, 197, 146, 189, 97, 93, 181, 7, 48, 127, 182, 238, 124,
            170, 144, 110, 147, 40, 86, 132, 118, 74, 129, 204, 248, 75, 100, 159, 67, 136, 59, 96,
            163, 137, 191, 110, 221, 247, 65,
        ];
        assert_pillow(3, (3, 4), &input, (5, 3), &expected);
    }

    #[test]
    fn same_size_returns_copy() {
        let px: Vec<u8> = (0..5 * 4 * 3).map(|v| (v * 37 % 256) as u8).collect();
        assert_eq!(resize_lanczos(&px, 5, 4, 3, 5, 4), px);
    }

    #[test]
    fn constant_image_stays_constant() {
        for &(w, h, nw, nh) in &[
            (7, 3, 320, 320),
            (451, 300, 320, 320),
            (9, 9, 2, 17),
            (1, 1, 5, 3),
            (40, 2, 3, 1),
        ] {
            for (channels, colour) in [(1usize, vec![201u8]), (3, vec![0, 128, 255])] {
                let px: Vec<u8> = colour
                    .iter()
                    .copied()
                    .cycle()
                    .take(w * h * channels)
                    .collect();
                let out = resize_lanczos(&px, w as u32, h as u32, channels, nw, nh);
                let expected: Vec<u8> = colour
                    .iter()
                    .copied()
                    .cycle()
                    .take(nw as usize * nh as usize * channels)
                    .collect();
                assert_eq!(out, expected, "{w}x{h}x{channels} -> {nw}x{nh}");
            }
        }
    }

    #[test]
    fn empty_source_gives_black() {
        assert_eq!(resize_lanczos(&[], 0, 4, 1, 3, 2), vec![0; 6]);
    }

    /// Lanczos sums must fit in `i32` like they do in Pillow's C `int`; check
    /// the worst case (all positive taps at 255, or all negative ones) over
    /// a spread of size pairs, including tiny sources whose windows get cut.
    #[test]
    fn accumulators_cannot_overflow() {
        let sizes: Vec<u32> = (1..=64)
            .chain([100, 255, 320, 427, 640, 1000, 4096])
            .collect();
        for &inp in &sizes {
            for &out in &sizes {
                let k = Kernel::new(inp, out);
                for i in 0..k.windows.len() {
                    let (_, w) = k.taps(i);
                    let pos: i64 = w.iter().filter(|&&v| v > 0).map(|&v| i64::from(v)).sum();
                    let neg: i64 = w.iter().filter(|&&v| v < 0).map(|&v| i64::from(v)).sum();
                    assert!(255 * pos + i64::from(ROUNDING) <= i64::from(i32::MAX));
                    assert!(255 * neg + i64::from(ROUNDING) >= i64::from(i32::MIN));
                    // Also within the range Pillow's clip8 table covers.
                    assert!((255 * pos + i64::from(ROUNDING)) >> PRECISION_BITS <= 639);
                    assert!((255 * neg + i64::from(ROUNDING)) >> PRECISION_BITS >= -640);
                }
            }
        }
    }
}
