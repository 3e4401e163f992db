//! Lanczos resampling that reproduces Pillow's `Image.resize(size, Image.LANCZOS)` bit for
//! bit on 8-bit images, because the reference recipe is defined by Pillow's output.

/// Pillow's fixed-point precision for 8-bit images: coefficients are scaled by 2^22, leaving
/// room in an i32 for a sum of weighted 8-bit samples.
const PRECISION_BITS: u32 = 32 - 8 - 2;
const SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

fn lanczos(x: f64) -> f64 {
    if (-SUPPORT..SUPPORT).contains(&x) {
        sinc(x) * sinc(x / SUPPORT)
    } else {
        0.0
    }
}

/// Per output pixel along one axis: the first input index and the fixed-point weights.
struct Coefficients {
    starts: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

fn coefficients(in_size: usize, out_size: usize) -> Coefficients {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = SUPPORT * filter_scale;
    // Pillow multiplies by the reciprocal rather than dividing; the rounding differs.
    let inverse_scale = 1.0 / filter_scale;
    let mut starts = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for out in 0..out_size {
        let center = (out as f64 + 0.5) * scale;
        // C casts truncate toward zero; the arguments can be negative near the left edge.
        let min = ((center - support + 0.5) as i64).max(0) as usize;
        let max = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let raw: Vec<f64> = (min..max)
            .map(|i| lanczos((i as f64 - center + 0.5) * inverse_scale))
            .collect();
        let total: f64 = raw.iter().sum();
        let fixed = raw
            .iter()
            .map(|&w| {
                let w = if total != 0.0 { w / total } else { w };
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                // Round half away from zero, as Pillow's normalize_coeffs_8bpc does.
                (if w < 0.0 { scaled - 0.5 } else { scaled + 0.5 }) as i32
            })
            .collect();
        starts.push(min);
        weights.push(fixed);
    }
    Coefficients { starts, weights }
}

fn clip8(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes an interleaved 8-bit image with `channels` channels (1 or 3) exactly as Pillow's LANCZOS does.
pub fn resize_lanczos(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: usize,
    new_width: u32,
    new_height: u32,
) -> Vec<u8> {
    let (w, h, nw, nh) = (width as usize, height as usize, new_width as usize, new_height as usize);
    assert_eq!(pixels.len(), w * h * channels, "pixel buffer matches its size");
    let rounding = 1i32 << (PRECISION_BITS - 1);
    let horizontal = coefficients(w, nw);
    let vertical = coefficients(h, nh);

    // Pillow resizes horizontally first, and only the rows the vertical pass will read.
    let (rows, first_row) = if nh != h {
        let first = vertical.starts[0];
        let last = vertical.starts[nh - 1] + vertical.weights[nh - 1].len();
        (last - first, first)
    } else {
        (h, 0)
    };
    let wide: Vec<u8> = if nw != w {
        let mut out = vec![0u8; nw * rows * channels];
        for y in 0..rows {
            let row = &pixels[(y + first_row) * w * channels..][..w * channels];
            for x in 0..nw {
                let start = horizontal.starts[x];
                for c in 0..channels {
                    let mut sum = rounding;
                    for (k, &weight) in horizontal.weights[x].iter().enumerate() {
                        sum += i32::from(row[(start + k) * channels + c]) * weight;
                    }
                    out[(y * nw + x) * channels + c] = clip8(sum);
                }
            }
        }
        out
    } else {
        pixels[first_row * w * channels..(first_row + rows) * w * channels].to_vec()
    };
    if nh == h {
        return wide;
    }
    let stride = nw * channels;
    let mut out = vec![0u8; nh * stride];
    for y in 0..nh {
        let start = vertical.starts[y] - first_row;
        for i in 0..stride {
            let mut sum = rounding;
            for (k, &weight) in vertical.weights[y].iter().enumerate() {
                sum += i32::from(wide[(start + k) * stride + i]) * weight;
            }
            out[y * stride + i] = clip8(sum);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_a_copy() {
        let pixels: Vec<u8> = (0..30).collect();
        assert_eq!(resize_lanczos(&pixels, 5, 2, 3, 5, 2), pixels);
    }

    #[test]
    fn constant_images_stay_constant() {
        for (w, h, nw, nh) in [(7, 5, 320, 320), (451, 300, 320, 320), (320, 320, 13, 17)] {
            let pixels = vec![77u8; w * h];
            let out = resize_lanczos(&pixels, w as u32, h as u32, 1, nw, nh);
            assert_eq!(out.len(), (nw * nh) as usize);
            assert!(out.iter().all(|&p| p == 77), "{w}x{h} -> {nw}x{nh}");
        }
    }
}
