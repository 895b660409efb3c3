//! Plots (PNG or SVG by file extension): DET curves and, for one recording,
//! the waveform and the keywords' DTW distance curves with detections marked.
//!
//! plotters draws the geometry; text is laid out here: SVG gets `<text>`
//! elements, PNG gets glyphs rasterized with `ab_glyph` from an embedded font
//! (a DejaVu Sans subset, printable ASCII), so no system font library is needed.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::metrics::DetPoint;
use crate::plot::{de, label, nice_step, render, Figure, Label};
use crate::{Error, Result};

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}").trim_end_matches(".0").to_string()
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

/// A DET figure: miss rate against false alarms per hour (log axis).
struct Det<'a> {
    curves: &'a [(String, Vec<DetPoint>)],
    /// Lowest FA/h drawn; points with no false alarm sit on this edge.
    floor: f64,
    title: String,
}

impl Figure for Det<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<Vec<Label>, String> {
        root.fill(&WHITE).map_err(de)?;
        let (w, _) = root.dim_in_pixel();
        let mut labels = vec![label(
            &self.title,
            (w as i32 / 2, 8),
            15.0,
            HPos::Center,
            VPos::Top,
        )];
        let max_fa = self
            .curves
            .iter()
            .flat_map(|c| c.1.iter().map(|p| p.fa_per_hour))
            .fold(self.floor * 10.0, f64::max);
        let (x0, x1) = (
            self.floor.log10().floor(),
            max_fa.log10().ceil().max(self.floor.log10() + 1.0),
        );
        let chart = ChartBuilder::on(root)
            .margin_top(36)
            .margin_left(60)
            .margin_bottom(44)
            .margin_right(150)
            .build_cartesian_2d(x0..x1, 0f64..100f64)
            .map_err(de)?;
        let area = chart.plotting_area().clone();
        let grid = RGBColor(225, 225, 225);
        let mut e = x0;
        while e <= x1 + 1e-9 {
            area.draw(&PathElement::new(vec![(e, 0.0), (e, 100.0)], grid))
                .map_err(de)?;
            let (bx, by) = chart.backend_coord(&(e, 0.0));
            labels.push(label(
                fmt_num(10f64.powf(e)),
                (bx, by + 4),
                11.0,
                HPos::Center,
                VPos::Top,
            ));
            e += 1.0;
        }
        for y in (0..=100).step_by(20) {
            let y = y as f64;
            area.draw(&PathElement::new(vec![(x0, y), (x1, y)], grid))
                .map_err(de)?;
            let (bx, by) = chart.backend_coord(&(x0, y));
            labels.push(label(
                format!("{y:.0}"),
                (bx - 5, by),
                11.0,
                HPos::Right,
                VPos::Center,
            ));
        }
        for mark in [0.1f64, 1.0] {
            let x = mark.log10();
            if x > x0 && x < x1 {
                area.draw(&PathElement::new(
                    vec![(x, 0.0), (x, 100.0)],
                    RGBColor(120, 120, 120).stroke_width(1),
                ))
                .map_err(de)?;
            }
        }
        for (i, (name, pts)) in self.curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let mut xy: Vec<(f64, f64)> = pts
                .iter()
                .map(|p| (p.fa_per_hour.max(self.floor).log10(), p.miss_rate * 100.0))
                .collect();
            xy.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
            area.draw(&PathElement::new(xy.clone(), color.stroke_width(2)))
                .map_err(de)?;
            for &p in &xy {
                area.draw(&Circle::new(p, 2, color.filled())).map_err(de)?;
            }
            let (bx, by) = chart.backend_coord(&(x1, 100.0));
            root.draw(&Rectangle::new(
                [
                    (bx + 12, by + 6 + 18 * i as i32),
                    (bx + 26, by + 12 + 18 * i as i32),
                ],
                color.filled(),
            ))
            .map_err(de)?;
            labels.push(label(
                name,
                (bx + 32, by + 9 + 18 * i as i32),
                12.0,
                HPos::Left,
                VPos::Center,
            ));
        }
        area.draw(&Rectangle::new(
            [(x0, 0.0), (x1, 100.0)],
            BLACK.stroke_width(1),
        ))
        .map_err(de)?;
        let (cx, _) = chart.backend_coord(&((x0 + x1) / 2.0, 0.0));
        let (_, by) = chart.backend_coord(&(x0, 0.0));
        labels.push(label(
            "false alarms per hour (log)",
            (cx, by + 22),
            12.0,
            HPos::Center,
            VPos::Top,
        ));
        let (bx, ty) = chart.backend_coord(&(x0, 100.0));
        labels.push(label(
            "miss %",
            (bx - 5, ty - 6),
            12.0,
            HPos::Right,
            VPos::Bottom,
        ));
        Ok(labels)
    }
}

/// Draws DET curves (miss rate vs false alarms per hour, log axis) to `path`.
/// Points with no false alarm are drawn at `0.5 / hours` (half the resolution).
pub fn plot_det(curves: &[(String, Vec<DetPoint>)], hours: f64, path: &Path) -> Result<()> {
    if curves.iter().all(|c| c.1.is_empty()) {
        return Err(Error::invalid("nothing to plot: no DET point"));
    }
    let floor = if hours > 0.0 { 0.5 / hours } else { 0.01 };
    let fig = Det {
        curves,
        floor: 10f64.powf(floor.log10().floor()),
        title: format!("DET: miss rate vs false alarms per hour ({hours:.2} h of audio)"),
    };
    render(&fig, path, (900, 560))
}

/// One keyword's curve on a per-file plot.
#[derive(Debug, Clone)]
pub struct KeywordTrace {
    /// Keyword name.
    pub name: String,
    /// Fused distance of the best match ending at each frame (`INFINITY`: none).
    pub distances: Vec<f32>,
    /// Its detection threshold.
    pub threshold: f32,
}

/// What to draw for one recording.
#[derive(Debug, Clone)]
pub struct FilePlot<'a> {
    /// Title (usually the file name).
    pub title: String,
    /// 16 kHz mono samples.
    pub samples: &'a [f32],
    /// Seconds from one frame to the next, and the time of frame 0's end.
    pub frame_step: f64,
    /// Time at which frame 0 ends (a match ending at frame j ends at `offset + j × step`).
    pub frame_offset: f64,
    /// Per-keyword distance curves.
    pub traces: Vec<KeywordTrace>,
    /// Detections: (keyword index, start, end).
    pub events: Vec<(usize, f64, f64)>,
    /// Labelled occurrences: (word, start, end).
    pub truth: Vec<(String, f64, f64)>,
}

impl Figure for FilePlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<Vec<Label>, String> {
        root.fill(&WHITE).map_err(de)?;
        let (w, h) = root.dim_in_pixel();
        let mut labels = vec![label(
            &self.title,
            (w as i32 / 2, 6),
            14.0,
            HPos::Center,
            VPos::Top,
        )];
        let dur = (self.samples.len() as f64 / crate::SAMPLE_RATE as f64).max(1e-3);
        let (top, bottom) = root.split_vertically((h as f64 * 0.4) as u32);
        let xstep = nice_step(dur, 10);
        let shade = |area: &DrawingArea<
            DB,
            plotters::coord::cartesian::Cartesian2d<
                plotters::coord::types::RangedCoordf64,
                plotters::coord::types::RangedCoordf64,
            >,
        >,
                     ylo: f64,
                     yhi: f64|
         -> std::result::Result<(), String> {
            for (_, a, b) in &self.truth {
                area.draw(&Rectangle::new(
                    [(*a, ylo), (*b, yhi)],
                    RGBColor(200, 240, 200).filled(),
                ))
                .map_err(de)?;
            }
            for &(k, a, b) in &self.events {
                let c = PALETTE[k % PALETTE.len()];
                area.draw(&Rectangle::new([(a, ylo), (b, yhi)], c.mix(0.25).filled()))
                    .map_err(de)?;
            }
            Ok(())
        };
        // Waveform: min/max envelope per pixel column.
        let peak = self.samples.iter().fold(1e-6f32, |m, &x| m.max(x.abs())) as f64;
        let wave = ChartBuilder::on(&top)
            .margin_top(28)
            .margin_left(60)
            .margin_right(150)
            .margin_bottom(6)
            .build_cartesian_2d(0f64..dur, -peak..peak)
            .map_err(de)?;
        let wa = wave.plotting_area().clone();
        shade(&wa, -peak, peak)?;
        let cols = wa.dim_in_pixel().0.max(1) as usize;
        let per = self.samples.len().div_ceil(cols).max(1);
        for (i, chunk) in self.samples.chunks(per).enumerate() {
            let (lo, hi) = chunk
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let t = (i * per) as f64 / crate::SAMPLE_RATE as f64;
            wa.draw(&PathElement::new(
                vec![(t, lo as f64), (t, hi as f64)],
                RGBColor(60, 60, 60),
            ))
            .map_err(de)?;
        }
        wa.draw(&Rectangle::new(
            [(0.0, -peak), (dur, peak)],
            BLACK.stroke_width(1),
        ))
        .map_err(de)?;
        let (_, cy) = wave.backend_coord(&(0.0, 0.0));
        labels.push(label("waveform", (4, cy), 11.0, HPos::Left, VPos::Center));
        // Distance curves.
        let finite = self
            .traces
            .iter()
            .flat_map(|t| t.distances.iter().copied().chain([t.threshold]))
            .filter(|d| d.is_finite());
        let ymax = (finite.fold(0.0f32, f32::max) as f64 * 1.05).max(1e-3);
        let chart = ChartBuilder::on(&bottom)
            .margin_top(6)
            .margin_left(60)
            .margin_right(150)
            .margin_bottom(40)
            .build_cartesian_2d(0f64..dur, 0f64..ymax)
            .map_err(de)?;
        let area = chart.plotting_area().clone();
        shade(&area, 0.0, ymax)?;
        let mut t = 0.0;
        while t <= dur + 1e-9 {
            let (bx, by) = chart.backend_coord(&(t, 0.0));
            labels.push(label(
                fmt_num(t),
                (bx, by + 4),
                11.0,
                HPos::Center,
                VPos::Top,
            ));
            t += xstep;
        }
        let ystep = nice_step(ymax, 5);
        let mut y = 0.0;
        while y <= ymax + 1e-9 {
            let (bx, by) = chart.backend_coord(&(0.0, y));
            area.draw(&PathElement::new(
                vec![(0.0, y), (dur, y)],
                RGBColor(230, 230, 230),
            ))
            .map_err(de)?;
            labels.push(label(
                fmt_num(y),
                (bx - 5, by),
                11.0,
                HPos::Right,
                VPos::Center,
            ));
            y += ystep;
        }
        for (k, tr) in self.traces.iter().enumerate() {
            let c = PALETTE[k % PALETTE.len()];
            let mut seg: Vec<(f64, f64)> = Vec::new();
            for (j, &d) in tr.distances.iter().enumerate() {
                if d.is_finite() {
                    seg.push((self.frame_offset + j as f64 * self.frame_step, d as f64));
                } else if !seg.is_empty() {
                    area.draw(&PathElement::new(
                        std::mem::take(&mut seg),
                        c.stroke_width(1),
                    ))
                    .map_err(de)?;
                }
            }
            area.draw(&PathElement::new(seg, c.stroke_width(1)))
                .map_err(de)?;
            let th = tr.threshold as f64;
            if th.is_finite() && th < ymax {
                area.draw(&PathElement::new(
                    vec![(0.0, th), (dur, th)],
                    c.mix(0.8).stroke_width(2),
                ))
                .map_err(de)?;
            }
            for &(ek, a, b) in &self.events {
                if ek == k {
                    area.draw(&TriangleMarker::new(
                        ((a + b) / 2.0, ymax * 0.97),
                        5,
                        c.filled(),
                    ))
                    .map_err(de)?;
                }
            }
            let (rx, ry) = chart.backend_coord(&(dur, ymax));
            root.draw(&Rectangle::new(
                [
                    (rx + 12, ry + 6 + 18 * k as i32),
                    (rx + 26, ry + 12 + 18 * k as i32),
                ],
                c.filled(),
            ))
            .map_err(de)?;
            labels.push(label(
                format!("{} (thr {:.3})", tr.name, tr.threshold),
                (rx + 32, ry + 9 + 18 * k as i32),
                11.0,
                HPos::Left,
                VPos::Center,
            ));
        }
        area.draw(&Rectangle::new(
            [(0.0, 0.0), (dur, ymax)],
            BLACK.stroke_width(1),
        ))
        .map_err(de)?;
        let (cx, by) = chart.backend_coord(&(dur / 2.0, 0.0));
        labels.push(label(
            "seconds   (green: labelled occurrences, coloured: detections)",
            (cx, by + 20),
            11.0,
            HPos::Center,
            VPos::Top,
        ));
        let (_, cy) = chart.backend_coord(&(0.0, ymax / 2.0));
        labels.push(label("distance", (4, cy), 11.0, HPos::Left, VPos::Center));
        Ok(labels)
    }
}

/// Draws one recording: waveform, per-keyword DTW distance curves with their
/// thresholds, detections and labelled occurrences, to `path` (`.png`/`.svg`).
pub fn plot_file(fig: &FilePlot<'_>, path: &Path) -> Result<()> {
    if fig.samples.is_empty() {
        return Err(Error::invalid(format!(
            "{}: nothing to plot (no audio)",
            path.display()
        )));
    }
    render(fig, path, (1200, 520))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(fa: f64, miss: f64) -> DetPoint {
        DetPoint {
            threshold: 0.0,
            hits: 0,
            misses: 0,
            false_alarms: 0,
            miss_rate: miss,
            fa_per_hour: fa,
        }
    }

    #[test]
    fn writes_det_and_file_plots() {
        let d = tempfile::tempdir().unwrap();
        let curves = vec![
            (
                "seven".to_string(),
                vec![pt(0.0, 1.0), pt(0.0, 0.5), pt(2.0, 0.2), pt(30.0, 0.0)],
            ),
            ("*".to_string(), vec![pt(0.0, 0.8), pt(5.0, 0.1)]),
        ];
        for ext in ["png", "svg"] {
            let p = d.path().join(format!("det.{ext}"));
            plot_det(&curves, 2.0, &p).unwrap();
            let b = std::fs::read(&p).unwrap();
            if ext == "png" {
                assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
            } else {
                let s = String::from_utf8(b).unwrap();
                assert!(s.contains("<svg") && s.contains("seven"));
            }
        }
        let samples: Vec<f32> = (0..32000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let fig = FilePlot {
            title: "stream.wav".into(),
            samples: &samples,
            frame_step: 0.01,
            frame_offset: 0.025,
            traces: vec![KeywordTrace {
                name: "seven".into(),
                distances: (0..198)
                    .map(|j| {
                        if j < 20 {
                            f32::INFINITY
                        } else {
                            0.3 + 0.1 * (j as f32 * 0.1).sin()
                        }
                    })
                    .collect(),
                threshold: 0.25,
            }],
            events: vec![(0, 0.5, 0.9)],
            truth: vec![("seven".into(), 0.45, 0.95)],
        };
        for ext in ["png", "svg"] {
            let p = d.path().join(format!("f.{ext}"));
            plot_file(&fig, &p).unwrap();
            assert!(std::fs::metadata(&p).unwrap().len() > 1000);
        }
        if let Ok(keep) = std::env::var("WORDSPOT_KEEP_PLOT") {
            std::fs::copy(d.path().join("det.png"), format!("{keep}-det.png")).unwrap();
            std::fs::copy(d.path().join("f.png"), format!("{keep}-file.png")).unwrap();
        }
        let e = plot_det(&curves, 2.0, &d.path().join("x.jpg")).unwrap_err();
        assert!(e.to_string().contains("x.jpg"));
        assert!(plot_det(&[], 1.0, &d.path().join("x.png")).is_err());
        let e = plot_file(&fig, &d.path().join("no/dir/f.png")).unwrap_err();
        assert!(e.to_string().contains("f.png"), "{e}");
    }
}
