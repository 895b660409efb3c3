//! Per-layer distributions of cosine similarity (pairs from the same
//! recording vs from different recordings), one panel per layer × normalizer,
//! drawn to PNG or SVG.
//!
//! plotters draws the geometry. Text is laid out here: SVG gets `<text>`
//! elements, PNG gets glyphs rasterized with `ab_glyph` from an embedded font
//! (a DejaVu Sans subset), so no system font library is needed and plotters'
//! own font features (which would change it for every user in the build,
//! criterion included) stay off.

use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::LayerReport;
use crate::{Error, Result};

const PANEL_W: u32 = 340;
const PANEL_H: u32 = 230;
const TITLE_H: u32 = 36;
const BINS: usize = 60;
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");
const TITLE: &str =
    "cosine similarity of random frame pairs: same recording (blue) vs different recordings (red)";

/// Histogram density of `values` over [-1, 1] at the bin centres.
pub fn density(values: &[f32]) -> Vec<(f32, f32)> {
    let mut counts = [0usize; BINS];
    for &v in values {
        if v.is_finite() {
            let b = (((v + 1.0) / 2.0) * BINS as f32).floor() as isize;
            counts[b.clamp(0, BINS as isize - 1) as usize] += 1;
        }
    }
    let width = 2.0 / BINS as f32;
    let n = values.len().max(1) as f32;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| (-1.0 + (i as f32 + 0.5) * width, c as f32 / (n * width)))
        .collect()
}

/// A text label in pixel coordinates of the whole image.
#[derive(Clone)]
struct Label {
    text: String,
    x: i32,
    y: i32,
    size: f32,
    h: HPos,
    v: VPos,
}

/// Draws the cosine-similarity distributions of `reports` to `path`
/// (`.png` or `.svg`, chosen by extension).
pub fn plot_cosines(reports: &[LayerReport], path: &Path) -> Result<()> {
    if reports.is_empty() {
        return Err(Error::invalid("nothing to plot: no analysis results"));
    }
    let mut layers: Vec<usize> = Vec::new();
    let mut norms: Vec<&str> = Vec::new();
    for r in reports {
        if !layers.contains(&r.layer) {
            layers.push(r.layer);
        }
        if !norms.contains(&r.normalizer.as_str()) {
            norms.push(&r.normalizer);
        }
    }
    let w = PANEL_W * norms.len() as u32;
    let h = PANEL_H * layers.len() as u32 + TITLE_H;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let fail = |e: String| Error::format(path, format!("cannot draw the plot: {e}"));
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, (w, h)).into_drawing_area();
            let labels = draw(&root, reports, &layers, &norms).map_err(fail)?;
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
                let labels = draw(&root, reports, &layers, &norms).map_err(fail)?;
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
    let mut width = 0.0f32;
    for (i, &id) in ids.iter().enumerate() {
        width += scaled.h_advance(id);
        if let Some(&next) = ids.get(i + 1) {
            width += scaled.kern(id, next);
        }
    }
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
        pen += scaled.h_advance(id);
        if let Some(&next) = ids.get(i + 1) {
            pen += scaled.kern(id, next);
        }
    }
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `n` ticks up to `max`.
fn nice_step(max: f32, n: usize) -> f32 {
    let raw = (max / n as f32).max(1e-6);
    let mag = 10f32.powf(raw.log10().floor());
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

/// Draws the geometry and returns the labels to render on top of it.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    reports: &[LayerReport],
    layers: &[usize],
    norms: &[&str],
) -> std::result::Result<Vec<Label>, String> {
    let s = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let label = |text: String, (x, y): (i32, i32), size: f32, h: HPos, v: VPos| Label {
        text,
        x,
        y,
        size,
        h,
        v,
    };
    root.fill(&WHITE).map_err(s)?;
    let mut labels = vec![label(
        TITLE.into(),
        ((PANEL_W * norms.len() as u32 / 2) as i32, 10),
        15.0,
        HPos::Center,
        VPos::Top,
    )];
    let (_, body) = root.split_vertically(TITLE_H);
    let panels = body.split_evenly((layers.len(), norms.len()));
    let grid = RGBColor(225, 225, 225);
    for (i, &layer) in layers.iter().enumerate() {
        for (j, &norm) in norms.iter().enumerate() {
            let panel = &panels[i * norms.len() + j];
            let Some(r) = reports
                .iter()
                .find(|r| r.layer == layer && r.normalizer == norm)
            else {
                continue;
            };
            let same = r.same.as_ref().map(|p| density(&p.cosines));
            let diff = r.different.as_ref().map(|p| density(&p.cosines));
            let peak = same
                .iter()
                .chain(diff.iter())
                .flatten()
                .fold(0.0f32, |m, &(_, y)| m.max(y))
                .max(1e-3);
            let ystep = nice_step(peak, 4);
            let ymax = (peak * 1.05 / ystep).ceil() * ystep;
            let mut chart = ChartBuilder::on(panel)
                .margin_top(24)
                .margin_left(44)
                .margin_bottom(22)
                .margin_right(14)
                .build_cartesian_2d(-1f32..1f32, 0f32..ymax)
                .map_err(s)?;
            let (px0, py0) = panel.get_base_pixel();
            let (pw, _) = panel.dim_in_pixel();
            labels.push(label(
                format!("layer {layer}, {norm}"),
                (px0 + pw as i32 / 2, py0 + 5),
                13.0,
                HPos::Center,
                VPos::Top,
            ));
            for k in 0..=4 {
                let x = -1.0 + 0.5 * k as f32;
                chart
                    .plotting_area()
                    .draw(&PathElement::new(vec![(x, 0.0), (x, ymax)], grid))
                    .map_err(s)?;
                let (bx, by) = chart.backend_coord(&(x, 0.0));
                labels.push(label(
                    format!("{x:.1}"),
                    (bx, by + 4),
                    11.0,
                    HPos::Center,
                    VPos::Top,
                ));
            }
            let mut y = 0.0f32;
            while y <= ymax + ystep * 1e-3 {
                chart
                    .plotting_area()
                    .draw(&PathElement::new(vec![(-1.0, y), (1.0, y)], grid))
                    .map_err(s)?;
                let (bx, by) = chart.backend_coord(&(-1.0, y));
                let text = if ystep >= 1.0 {
                    format!("{y:.0}")
                } else {
                    format!("{y:.1}")
                };
                labels.push(label(text, (bx - 4, by), 11.0, HPos::Right, VPos::Center));
                y += ystep;
            }
            for (curve, color) in [(same, BLUE), (diff, RED)] {
                if let Some(points) = curve {
                    chart
                        .draw_series(
                            AreaSeries::new(points, 0.0, color.mix(0.25)).border_style(color),
                        )
                        .map_err(s)?;
                }
            }
            chart
                .plotting_area()
                .draw(&Rectangle::new(
                    [(-1.0, 0.0), (1.0, ymax)],
                    BLACK.stroke_width(1),
                ))
                .map_err(s)?;
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn density_integrates_to_one() {
        let v: Vec<f32> = (0..1000).map(|i| (i as f32 / 999.0) * 2.0 - 1.0).collect();
        let d = density(&v);
        assert_eq!(d.len(), BINS);
        let area: f32 = d.iter().map(|&(_, y)| y * 2.0 / BINS as f32).sum();
        assert!((area - 1.0).abs() < 1e-4, "{area}");
        assert!(density(&[]).iter().all(|&(_, y)| y == 0.0));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(16.0, 4), 5.0);
        assert_eq!(nice_step(4.0, 4), 1.0);
        assert!((nice_step(0.7, 4) - 0.2).abs() < 1e-6);
    }

    #[test]
    fn writes_png_and_svg() {
        use crate::analysis::{analyze_layers, AnalysisConfig, Rng};
        use crate::features::FrontendConfig;
        use crate::normalize::NormSpec;
        let mut rng = Rng::new(1);
        let layer = |off: f32, rng: &mut Rng| -> Vec<ndarray::Array2<f32>> {
            (0..4)
                .map(|_| {
                    ndarray::Array2::from_shape_fn((40, 6), |(_, j)| {
                        rng.gaussian() as f32 + if j == 0 { off } else { 0.0 }
                    })
                })
                .collect()
        };
        let layers = vec![(0, layer(0.0, &mut rng)), (1, layer(5.0, &mut rng))];
        let specs = NormSpec::parse_list("none,standardize").unwrap();
        let cfg = AnalysisConfig::default();
        let rep = analyze_layers(&layers, &specs, &FrontendConfig::default(), &cfg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        plot_cosines(&rep, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let svg = dir.path().join("a.svg");
        plot_cosines(&rep, &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("<svg") && text.contains("layer 1, standardize"));
        let err = plot_cosines(&rep, &dir.path().join("a.jpg")).unwrap_err();
        assert!(err.to_string().contains("a.jpg"), "{err}");
        assert!(plot_cosines(&[], &png).is_err());
        let err = plot_cosines(&rep, &dir.path().join("no/such/dir/a.png")).unwrap_err();
        assert!(err.to_string().contains("a.png"), "{err}");
    }
}
