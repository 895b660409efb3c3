//! Rendering shared by every plot: plotters draws the geometry on an SVG or
//! bitmap backend; text is laid out here: SVG gets `<text>` elements, PNG
//! gets glyphs rasterized with `ab_glyph` from an embedded font (a DejaVu Sans
//! subset, printable ASCII), so no system font library is needed and
//! plotters' own font features stay off.

use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-subset.ttf");

/// A text label in pixels of the whole image.
#[derive(Clone)]
pub(crate) struct Label {
    pub(crate) text: String,
    pub(crate) x: i32,
    pub(crate) y: i32,
    pub(crate) size: f32,
    pub(crate) h: HPos,
    pub(crate) v: VPos,
}

pub(crate) fn label(
    text: impl Into<String>,
    (x, y): (i32, i32),
    size: f32,
    h: HPos,
    v: VPos,
) -> Label {
    Label {
        text: text.into(),
        x,
        y,
        size,
        h,
        v,
    }
}

/// Something drawn on any plotters backend; returns the labels to put on top.
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<Vec<Label>, String>;
}

pub(crate) fn de<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Renders `fig` to `path` (`.png` or `.svg`).
pub(crate) fn render<F: Figure>(fig: &F, path: &Path, (w, h): (u32, u32)) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let fail = |e: String| Error::format(path, format!("cannot draw the plot: {e}"));
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, (w, h)).into_drawing_area();
            let labels = fig.draw(&root).map_err(fail)?;
            for l in &labels {
                let style = ("sans-serif", l.size as f64)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(l.h, l.v));
                root.draw(&Text::new(l.text.clone(), (l.x, l.y), style))
                    .map_err(|e| fail(e.to_string()))?;
            }
            root.present().map_err(|e| fail(e.to_string()))
        }
        Some("png") => {
            let mut buf = vec![0u8; (w * h * 3) as usize];
            let labels = {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                let labels = fig.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(e.to_string()))?;
                labels
            };
            let font =
                FontRef::try_from_slice(FONT).map_err(|e| fail(format!("embedded font: {e}")))?;
            for l in &labels {
                raster_text(&mut buf, w, h, &font, l);
            }
            write_png(path, &buf, w, h)
        }
        _ => Err(Error::invalid(format!(
            "{}: plot file must end in .png or .svg",
            path.display()
        ))),
    }
}

fn write_png(path: &Path, rgb: &[u8], w: u32, h: u32) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let err = |e: png::EncodingError| Error::format(path, format!("cannot write PNG: {e}"));
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)
}

/// Rasterizes one label (black, anti-aliased) into an RGB buffer.
fn raster_text(buf: &mut [u8], w: u32, h: u32, font: &FontRef, l: &Label) {
    let scaled = font.as_scaled(PxScale::from(l.size));
    let ids: Vec<_> = l.text.chars().map(|c| font.glyph_id(c)).collect();
    let advance = |i: usize| {
        scaled.h_advance(ids[i]) + ids.get(i + 1).map_or(0.0, |&n| scaled.kern(ids[i], n))
    };
    let width: f32 = (0..ids.len()).map(advance).sum();
    let x0 = match l.h {
        HPos::Left => l.x as f32,
        HPos::Center => l.x as f32 - width / 2.0,
        HPos::Right => l.x as f32 - width,
    };
    let (asc, desc) = (scaled.ascent(), scaled.descent());
    let baseline = match l.v {
        VPos::Top => l.y as f32 + asc,
        VPos::Center => l.y as f32 + (asc + desc) / 2.0,
        VPos::Bottom => l.y as f32 + desc,
    };
    let mut pen = x0;
    for (i, &id) in ids.iter().enumerate() {
        let glyph = id.with_scale_and_position(l.size, ab_glyph::point(pen, baseline));
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, cov| {
                let px = b.min.x as i64 + gx as i64;
                let py = b.min.y as i64 + gy as i64;
                if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                    let k = ((py as u32 * w + px as u32) * 3) as usize;
                    for c in &mut buf[k..k + 3] {
                        *c = (*c as f32 * (1.0 - cov.clamp(0.0, 1.0))) as u8;
                    }
                }
            });
        }
        pen += advance(i);
    }
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `n` ticks over `span`.
pub(crate) fn nice_step(span: f64, n: usize) -> f64 {
    let raw = (span / n as f64).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(16.0, 4), 5.0);
        assert_eq!(nice_step(4.0, 4), 1.0);
        assert!((nice_step(0.7, 4) - 0.2).abs() < 1e-9);
    }
}
