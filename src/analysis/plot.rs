//! Per-layer distributions of cosine similarity (pairs from the same
//! recording vs from different recordings), one panel per layer × normalizer,
//! drawn with plotters to PNG or SVG. Text uses an embedded font (a DejaVu Sans
//! subset), so no system font library is needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::LayerReport;
use crate::{Error, Result};

const PANEL_W: u32 = 340;
const PANEL_H: u32 = 230;
const TITLE_H: u32 = 40;
const BINS: usize = 60;
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            // The embedded font is known to parse; a failure would only lose labels.
            let _ = plotters::style::register_font(family, FontStyle::Normal, FONT);
        }
    });
}

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
    register_fonts();
    let fail = |e: String| Error::format(path, format!("cannot draw the plot: {e}"));
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, (w, h)).into_drawing_area();
            draw(&root, reports, &layers, &norms).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        Some("png") => {
            let mut buf = vec![0u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                draw(&root, reports, &layers, &norms).map_err(fail)?;
                root.present().map_err(|e| fail(e.to_string()))?;
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

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    reports: &[LayerReport],
    layers: &[usize],
    norms: &[&str],
) -> std::result::Result<(), String> {
    let s = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(s)?;
    let (title, body) = root.split_vertically(TITLE_H);
    title
        .titled(
            "cosine similarity of random frame pairs: same recording (blue) vs different recordings (red)",
            ("sans-serif", 15),
        )
        .map_err(s)?;
    let panels = body.split_evenly((layers.len(), norms.len()));
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
            let ymax = same
                .iter()
                .chain(diff.iter())
                .flatten()
                .fold(0.0f32, |m, &(_, y)| m.max(y))
                .max(1e-3)
                * 1.1;
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("layer {layer}, {norm}"), ("sans-serif", 14))
                .margin(6)
                .x_label_area_size(22)
                .y_label_area_size(36)
                .build_cartesian_2d(-1f32..1f32, 0f32..ymax)
                .map_err(s)?;
            chart
                .configure_mesh()
                .x_labels(5)
                .y_labels(4)
                .label_style(("sans-serif", 11))
                .draw()
                .map_err(s)?;
            for (curve, color) in [(same, BLUE), (diff, RED)] {
                if let Some(points) = curve {
                    chart
                        .draw_series(
                            AreaSeries::new(points, 0.0, color.mix(0.25)).border_style(color),
                        )
                        .map_err(s)?;
                }
            }
        }
    }
    Ok(())
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
