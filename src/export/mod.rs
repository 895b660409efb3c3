//! Hits back into the tools linguists use: one file per recording, as an
//! ELAN document ([`eaf`]), a Praat TextGrid ([`textgrid`]), CSV ([`csv`]) or an
//! Audacity label track ([`audacity`]).
//!
//! Times are rounded to the millisecond once ([`ms`]) and written from those
//! integers, so every format carries the same times. Output files mirror the
//! recordings' folders (relative to the folder that contains them all) under
//! the export folder:
//!
//! | format | new file | an annotation file already beside the recording |
//! |---|---|---|
//! | `eaf` | `DIR/…/NAME.eaf` | merged: `DIR/…/NAME.wordspot.eaf` (`--in-place`: `NAME.eaf` itself) |
//! | `textgrid` | `DIR/…/NAME.TextGrid` | merged: `DIR/…/NAME.wordspot.TextGrid` (`--in-place`: itself) |
//! | `csv` | `DIR/…/NAME.wordspot.csv` | – |
//! | `audacity` | `DIR/…/NAME.wordspot.txt` | – |
//!
//! Merging adds one tier per word (`wordspot:WORD`), replaces a tier of that
//! name from an earlier run, and leaves every other tier as it was.
//!
//! [`read_judgements`] reads the TSV saved by the review page
//! ([`crate::report`]); [`drop_rejected`] removes the hits judged wrong.

pub mod audacity;
pub mod csv;
pub mod eaf;
pub mod textgrid;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::annotations::{is_eaf, is_textgrid};
use crate::search::WordHit;
use crate::{Error, Result};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// ELAN annotation document (EAF 3.0).
    Eaf,
    /// Praat TextGrid (long text format).
    TextGrid,
    /// Comma-separated values with a header.
    Csv,
    /// Audacity label track (`start<TAB>end<TAB>label`).
    Audacity,
}

impl std::str::FromStr for ExportFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "eaf" | "elan" => Ok(ExportFormat::Eaf),
            "textgrid" | "praat" => Ok(ExportFormat::TextGrid),
            "csv" => Ok(ExportFormat::Csv),
            "audacity" => Ok(ExportFormat::Audacity),
            _ => Err(Error::invalid(format!(
                "unknown export format '{s}' (expected eaf, textgrid, csv or audacity)"
            ))),
        }
    }
}

/// The tier (EAF, TextGrid) holding the hits of `word`.
pub fn tier_name(word: &str) -> String {
    format!("wordspot:{word}")
}

/// Seconds rounded to whole milliseconds.
pub fn ms(t: f64) -> i64 {
    (t * 1000.0).round() as i64
}

/// The hits of one word in one recording, as millisecond spans sorted by start.
#[derive(Debug, Clone, PartialEq)]
pub struct WordSpans {
    /// The word.
    pub word: String,
    /// `(start ms, end ms)`, sorted, non-overlapping.
    pub spans: Vec<(i64, i64)>,
}

/// Where an export went.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The recording.
    pub recording: PathBuf,
    /// The file written.
    pub file: PathBuf,
    /// The annotation file merged into, if any.
    pub merged_from: Option<PathBuf>,
}

/// Writes the hits of each recording in `format` under `dir` (see the module
/// docs for names and merging). `in_place` overwrites an existing EAF or
/// TextGrid beside the recording instead of writing a `.wordspot` copy.
/// Recordings without hits get no file.
pub fn export(
    hits: &[WordHit],
    format: ExportFormat,
    dir: &Path,
    in_place: bool,
) -> Result<Vec<Written>> {
    let mut by_file: BTreeMap<&Path, Vec<&WordHit>> = BTreeMap::new();
    for h in hits {
        by_file.entry(h.file.as_path()).or_default().push(h);
    }
    let recordings: Vec<PathBuf> = by_file.keys().map(|p| absolute(p)).collect();
    let root = common_dir(&recordings);
    let mut out = Vec::new();
    for ((rec, hs), abs) in by_file.into_iter().zip(&recordings) {
        let parent = abs.parent().unwrap_or(Path::new("/"));
        let rel = parent.strip_prefix(&root).unwrap_or(Path::new(""));
        let out_dir = dir.join(rel);
        let stem = abs
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "recording".into());
        let words = group(&hs);
        let (file, merged_from, text) = match format {
            ExportFormat::Eaf => {
                let beside = beside(abs, is_eaf);
                let file = match (&beside, in_place) {
                    (Some(b), true) => b.clone(),
                    (Some(_), false) => out_dir.join(format!("{stem}.wordspot.eaf")),
                    (None, _) => out_dir.join(format!("{stem}.eaf")),
                };
                let file_dir = out_dir_abs(&file);
                let text = match &beside {
                    Some(b) => {
                        let t = fs::read_to_string(b).map_err(|e| Error::io(b, e))?;
                        let from = absolute(b.parent().unwrap_or(Path::new(".")));
                        eaf::merge(&t, b, &words, Some((&from, &file_dir)))?
                    }
                    None => {
                        let media = eaf::Media::for_recording(abs, &file_dir);
                        let doc = eaf::new_document(Some(&media), &eaf::utc_now());
                        eaf::merge(&doc, &file, &words, None)?
                    }
                };
                (file, beside, text)
            }
            ExportFormat::TextGrid => {
                let beside = beside(abs, is_textgrid);
                let file = match (&beside, in_place) {
                    (Some(b), true) => b.clone(),
                    (Some(_), false) => out_dir.join(format!("{stem}.wordspot.TextGrid")),
                    (None, _) => out_dir.join(format!("{stem}.TextGrid")),
                };
                let existing = match &beside {
                    Some(b) => Some(crate::eval::labels::read_textgrid(b)?),
                    None => None,
                };
                let duration = crate::audio::FileSource::open(rec)
                    .ok()
                    .and_then(|s| s.duration());
                let g = textgrid::merge(existing, &words, duration);
                (file, beside, textgrid::write_long(&g))
            }
            ExportFormat::Csv => (
                out_dir.join(format!("{stem}.wordspot.csv")),
                None,
                csv::write(&hs),
            ),
            ExportFormat::Audacity => (
                out_dir.join(format!("{stem}.wordspot.txt")),
                None,
                audacity::write(&words),
            ),
        };
        write_atomic(&file, text.as_bytes())?;
        out.push(Written {
            recording: rec.to_path_buf(),
            file,
            merged_from,
        });
    }
    Ok(out)
}

/// Groups a recording's hits by word (first-appearance order), spans sorted
/// by start. Spans that overlap once rounded to milliseconds are clipped to
/// touch, so a tier never holds overlapping annotations.
fn group(hits: &[&WordHit]) -> Vec<WordSpans> {
    let mut out: Vec<WordSpans> = Vec::new();
    for h in hits {
        let span = (ms(h.start), ms(h.end).max(ms(h.start) + 1));
        match out.iter_mut().find(|w| w.word == h.word) {
            Some(w) => w.spans.push(span),
            None => out.push(WordSpans {
                word: h.word.clone(),
                spans: vec![span],
            }),
        }
    }
    for w in &mut out {
        w.spans.sort();
        for i in 1..w.spans.len() {
            if w.spans[i].0 < w.spans[i - 1].1 {
                w.spans[i].0 = w.spans[i - 1].1;
                w.spans[i].1 = w.spans[i].1.max(w.spans[i].0 + 1);
            }
        }
    }
    out
}

/// The annotation file beside `recording` with its stem, if any.
fn beside(recording: &Path, is_kind: fn(&Path) -> bool) -> Option<PathBuf> {
    let dir = recording.parent()?;
    let stem = recording.file_stem()?;
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_stem() == Some(stem) && is_kind(p) && p.is_file())
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The absolute folder a file will be written to (which may not exist yet).
fn out_dir_abs(file: &Path) -> PathBuf {
    let d = file.parent().unwrap_or(Path::new("."));
    let d = if d.as_os_str().is_empty() {
        Path::new(".")
    } else {
        d
    };
    // Canonicalise the deepest existing ancestor, then add the rest.
    let mut existing = d.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(n), Some(p)) => {
                rest.push(n.to_os_string());
                existing = p.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = absolute(&existing);
    for n in rest.iter().rev() {
        out.push(n);
    }
    out
}

/// `p` made absolute (canonical when it exists).
pub fn absolute(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap_or_else(|_| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        }
    })
}

/// The deepest folder containing every file of `files` (absolute paths).
fn common_dir(files: &[PathBuf]) -> PathBuf {
    let mut root: Option<Vec<Component>> = None;
    for f in files {
        let comps: Vec<Component> = f.parent().map_or(Vec::new(), |p| p.components().collect());
        root = Some(match root {
            None => comps,
            Some(r) => r
                .into_iter()
                .zip(comps)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    root.map(|c| c.iter().collect()).unwrap_or_default()
}

/// The path of `to` relative to the folder `from` (both absolute), with `/`
/// separators, e.g. `../audio/a.wav`.
pub fn relative_path(from: &Path, to: &Path) -> String {
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Writes `bytes` to `path` through a temporary file in the same folder
/// (the folder is created), so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(d) = dir {
        fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let tmp = path.with_extension(format!("wordspot-tmp{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// One judgement from the review page.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The word.
    pub word: String,
    /// The recording, as written on the page.
    pub file: String,
    /// Start, milliseconds.
    pub start_ms: i64,
    /// End, milliseconds.
    pub end_ms: i64,
    /// True for accepted, false for rejected.
    pub accepted: bool,
}

/// Reads a judgements TSV (`word, file, start, end, distance, judgement`,
/// with a header line) as saved by the review page. Rows without a judgement
/// are skipped; a judgement other than `accept`/`reject` is an error naming
/// the line.
pub fn read_judgements(path: &Path) -> Result<Vec<Judgement>> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = l.split('\t').collect();
        if i == 0 && cols.first().is_some_and(|c| c.trim() == "word") {
            continue;
        }
        let bad = |m: String| Error::format(path, format!("line {line}: {m}"));
        if cols.len() != 6 {
            return Err(bad(format!(
                "{} columns, expected 6 (word, file, start, end, distance, judgement)",
                cols.len()
            )));
        }
        let t = |s: &str, what: &str| -> Result<i64> {
            match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(ms(v)),
                _ => Err(bad(format!("bad {what} '{}'", s.trim()))),
            }
        };
        let accepted = match cols[5].trim() {
            "" => continue,
            "accept" | "accepted" | "yes" => true,
            "reject" | "rejected" | "no" => false,
            other => {
                return Err(bad(format!(
                    "judgement '{other}' (expected accept or reject)"
                )))
            }
        };
        out.push(Judgement {
            word: cols[0].trim().to_string(),
            file: cols[1].trim().to_string(),
            start_ms: t(cols[2], "start")?,
            end_ms: t(cols[3], "end")?,
            accepted,
        });
    }
    Ok(out)
}

/// Removes the hits judged `reject` (matched on word, file as displayed, and
/// times to the millisecond); returns the kept hits and how many were dropped.
pub fn drop_rejected(hits: Vec<WordHit>, judgements: &[Judgement]) -> (Vec<WordHit>, usize) {
    let rejected: std::collections::HashSet<(&str, &str, i64, i64)> = judgements
        .iter()
        .filter(|j| !j.accepted)
        .map(|j| (j.word.as_str(), j.file.as_str(), j.start_ms, j.end_ms))
        .collect();
    let before = hits.len();
    let kept: Vec<WordHit> = hits
        .into_iter()
        .filter(|h| {
            let f = h.file.display().to_string();
            !rejected.contains(&(h.word.as_str(), f.as_str(), ms(h.start), ms(h.end)))
        })
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(word: &str, file: &str, start: f64, end: f64) -> WordHit {
        WordHit {
            rank: 1,
            file: file.into(),
            start,
            end,
            distance: 0.1,
            word: word.into(),
            file_rank: 1,
        }
    }

    #[test]
    fn paths_and_rounding() {
        assert_eq!(ms(1.2345), 1235);
        assert_eq!(ms(0.0004), 0);
        assert_eq!(
            relative_path(Path::new("/a/b/out"), Path::new("/a/c/x.wav")),
            "../../c/x.wav"
        );
        assert_eq!(
            relative_path(Path::new("/a"), Path::new("/a/x.wav")),
            "x.wav"
        );
        assert_eq!(
            common_dir(&["/d/a/x.wav".into(), "/d/b/c/y.wav".into()]),
            PathBuf::from("/d")
        );
        assert_eq!(common_dir(&["/d/a/x.wav".into()]), PathBuf::from("/d/a"));
        assert!("ELAN".parse::<ExportFormat>().is_ok());
        assert!("doc".parse::<ExportFormat>().is_err());
    }

    #[test]
    fn grouping_clips_overlaps_after_rounding() {
        let a = hit("x", "r.wav", 1.0, 1.5004);
        let b = hit("x", "r.wav", 1.5, 2.0);
        let c = hit("y", "r.wav", 0.2, 0.4);
        let g = group(&[&b, &c, &a]);
        assert_eq!(g[0].word, "x");
        assert_eq!(g[0].spans, vec![(1000, 1500), (1500, 2000)]);
        assert_eq!(g[1].spans, vec![(200, 400)]);
    }

    #[test]
    fn judgements_drop_rejected_hits() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j.tsv");
        fs::write(
            &p,
            "word\tfile\tstart\tend\tdistance\tjudgement\nx\tr.wav\t1.000\t1.500\t0.1\treject\nx\tr.wav\t2.000\t2.500\t0.2\taccept\nx\tq.wav\t0\t1\t0.3\t\n",
        )
        .unwrap();
        let j = read_judgements(&p).unwrap();
        assert_eq!(j.len(), 2);
        let hits = vec![
            hit("x", "r.wav", 1.0, 1.5),
            hit("x", "r.wav", 2.0, 2.5),
            hit("y", "r.wav", 1.0, 1.5),
        ];
        let (kept, dropped) = drop_rejected(hits, &j);
        assert_eq!(dropped, 1);
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|h| !(h.word == "x" && h.start == 1.0)));
        fs::write(&p, "x\tr.wav\t1\t2\t0.1\tmaybe\n").unwrap();
        let e = read_judgements(&p).unwrap_err().to_string();
        assert!(
            e.contains("line 1") && e.contains("maybe") && e.contains("j.tsv"),
            "{e}"
        );
    }
}
