//! Word labels of recordings: which word occurs where.
//!
//! Two formats are read:
//!
//! * **TSV**, one row per word occurrence:
//!   `file<TAB>word<TAB>start<TAB>end` (seconds). `file` is relative to the
//!   folder of the labels file (or absolute). A first line whose third column is
//!   not a number is a header. Blank lines and lines starting with `#` are
//!   ignored. A row with the file alone (`file`, or empty word/times) lists a
//!   recording that contains none of the labelled words (background).
//! * **Praat TextGrid** (long or short text format, UTF-8 or UTF-16): the
//!   intervals of one interval tier with non-empty text are occurrences. The
//!   tier is chosen by name, else the tier named `words` or `word`
//!   (case-insensitive), else the first interval tier. The recording is the
//!   audio file with the same stem in the same folder (`a.TextGrid` → `a.wav`,
//!   `a.flac`...). A folder is searched recursively for `*.TextGrid` files.
//!
//! Errors name the file and the line: end before start, a file that does not
//! exist, two overlapping occurrences of the same word in one recording, a
//! number that does not parse.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::search::AUDIO_EXTENSIONS;
use crate::{Error, Result};

/// One labelled occurrence of a word in a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// The recording.
    pub file: PathBuf,
    /// The word.
    pub word: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

impl Occurrence {
    /// True when `[start, end]` overlaps this occurrence (touching is not overlapping).
    pub fn overlaps(&self, start: f64, end: f64) -> bool {
        start < self.end && self.start < end
    }
    /// Length of the overlap with `[start, end]`, seconds (0 when disjoint).
    pub fn overlap(&self, start: f64, end: f64) -> f64 {
        (self.end.min(end) - self.start.max(start)).max(0.0)
    }
}

/// The labels of a set of recordings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    /// Every recording of the set (sorted, unique), with or without occurrences.
    pub files: Vec<PathBuf>,
    /// The occurrences, sorted by file then start.
    pub occurrences: Vec<Occurrence>,
}

impl Labels {
    /// The distinct words, sorted.
    pub fn words(&self) -> Vec<String> {
        let mut w: Vec<String> = self.occurrences.iter().map(|o| o.word.clone()).collect();
        w.sort();
        w.dedup();
        w
    }
    /// Occurrences in `file`.
    pub fn in_file<'a>(&'a self, file: &'a Path) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences.iter().filter(move |o| o.file == file)
    }
    /// Adds a recording without occurrences (no-op when already listed).
    pub fn add_file(&mut self, file: PathBuf) {
        if let Err(i) = self.files.binary_search(&file) {
            self.files.insert(i, file);
        }
    }
}

/// A labelled row with the line it came from (for error messages).
#[derive(Debug, Clone)]
struct Row {
    occ: Occurrence,
    line: usize,
}

/// Reads labels from a TSV file, a TextGrid file, or a folder of TextGrids.
/// `tier` picks the TextGrid tier by name.
pub fn read_labels(path: &Path, tier: Option<&str>) -> Result<Labels> {
    let mut rows = Vec::new();
    let mut files = Vec::new();
    if path.is_dir() {
        let mut grids = Vec::new();
        find_textgrids(path, &mut grids)?;
        if grids.is_empty() {
            return Err(format_error(path, "no .TextGrid file in this folder"));
        }
        for g in grids {
            read_textgrid_into(&g, tier, &mut rows, &mut files)?;
        }
    } else if is_textgrid(path) {
        read_textgrid_into(path, tier, &mut rows, &mut files)?;
    } else {
        let text = read_text(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        parse_tsv(&text, base, path, &mut rows, &mut files)?;
    }
    finish(path, rows, files)
}

/// An [`Error::Format`] for `path` whose message stays on one line: control
/// characters that came from the file (a quoted TextGrid string may span
/// lines) are shown escaped (`\n`), so the error prints as one line naming
/// the file and the problem.
fn format_error(path: &Path, msg: impl Into<String>) -> Error {
    let msg: String = msg.into();
    let one_line = if msg.chars().any(char::is_control) {
        msg.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        msg
    };
    Error::format(path, one_line)
}

fn is_textgrid(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("textgrid"))
}

fn find_textgrids(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    // The audio folder walk: links followed, each real path once (no loops).
    let (files, mut errors) = crate::search::collect_matching(&[dir.to_path_buf()], &is_textgrid);
    if !errors.is_empty() {
        return Err(errors.remove(0));
    }
    out.extend(files);
    Ok(())
}

/// Reads a text file as UTF-8, or UTF-16 when it starts with a byte-order mark
/// (Praat writes UTF-16 when the text needs it).
fn read_text(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let utf16 = |le: bool| -> Result<String> {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| format_error(path, "invalid UTF-16 text"))
    };
    match bytes.get(..2) {
        Some([0xFF, 0xFE]) => utf16(true),
        Some([0xFE, 0xFF]) => utf16(false),
        _ => {
            let s = String::from_utf8(bytes)
                .map_err(|e| format_error(path, format!("not UTF-8 text: {e}")))?;
            Ok(s.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(s))
        }
    }
}

fn parse_seconds(s: &str, what: &str, path: &Path, line: usize) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format_error(
            path,
            format!(
                "line {line}: bad {what} '{}' (a non-negative number of seconds expected)",
                s.trim()
            ),
        )),
    }
}

fn parse_tsv(
    text: &str,
    base: &Path,
    path: &Path,
    rows: &mut Vec<Row>,
    files: &mut Vec<(PathBuf, usize)>,
) -> Result<()> {
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = l.split('\t').collect();
        let is_first = std::mem::replace(&mut first, false);
        if is_first && cols.len() >= 3 && cols[2].trim().parse::<f64>().is_err() {
            continue; // header
        }
        let file_col = cols[0].trim();
        if file_col.is_empty() {
            return Err(format_error(path, format!("line {line}: empty file name")));
        }
        let file = base.join(file_col);
        if !file.is_file() {
            return Err(format_error(
                path,
                format!("line {line}: unknown file '{}'", file.display()),
            ));
        }
        files.push((file.clone(), line));
        let rest: Vec<&str> = cols[1..].iter().map(|c| c.trim()).collect();
        if rest.iter().all(|c| c.is_empty()) {
            continue; // a recording without labelled words
        }
        if cols.len() != 4 {
            return Err(format_error(
                path,
                format!(
                    "line {line}: {} columns, expected 4 (file, word, start, end) separated by tabs",
                    cols.len()
                ),
            ));
        }
        let word = rest[0];
        if word.is_empty() {
            return Err(format_error(path, format!("line {line}: empty word")));
        }
        let start = parse_seconds(rest[1], "start", path, line)?;
        let end = parse_seconds(rest[2], "end", path, line)?;
        rows.push(Row {
            occ: Occurrence {
                file,
                word: word.to_string(),
                start,
                end,
            },
            line,
        });
    }
    Ok(())
}

/// Common checks: end after start, no overlapping duplicates; then sorts.
fn finish(path: &Path, rows: Vec<Row>, files: Vec<(PathBuf, usize)>) -> Result<Labels> {
    for r in &rows {
        if r.occ.end <= r.occ.start {
            return Err(format_error(
                path,
                format!(
                    "line {}: end {} is not after start {} ('{}' in {})",
                    r.line,
                    r.occ.end,
                    r.occ.start,
                    r.occ.word,
                    r.occ.file.display()
                ),
            ));
        }
    }
    let mut groups: BTreeMap<(&Path, &str), Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        groups
            .entry((r.occ.file.as_path(), r.occ.word.as_str()))
            .or_default()
            .push(r);
    }
    for g in groups.values_mut() {
        g.sort_by(|a, b| a.occ.start.total_cmp(&b.occ.start));
        for w in g.windows(2) {
            if w[1].occ.start < w[0].occ.end {
                return Err(format_error(
                    path,
                    format!(
                        "line {}: '{}' at {}-{} overlaps the same word at {}-{} (line {}) in {}",
                        w[1].line,
                        w[1].occ.word,
                        w[1].occ.start,
                        w[1].occ.end,
                        w[0].occ.start,
                        w[0].occ.end,
                        w[0].line,
                        w[1].occ.file.display()
                    ),
                ));
            }
        }
    }
    let mut occurrences: Vec<Occurrence> = rows.into_iter().map(|r| r.occ).collect();
    occurrences.sort_by(|a, b| {
        a.file
            .cmp(&b.file)
            .then(a.start.total_cmp(&b.start))
            .then(a.word.cmp(&b.word))
    });
    let mut fs: Vec<PathBuf> = files.into_iter().map(|f| f.0).collect();
    fs.sort();
    fs.dedup();
    if fs.is_empty() {
        return Err(format_error(path, "no recording listed"));
    }
    Ok(Labels {
        files: fs,
        occurrences,
    })
}

/// A token of a Praat text file: a quoted string, a number, or a flag.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Num(f64),
    Flag(bool),
    /// A bare word (a label such as `xmin =`, or garbage).
    Word(String),
}

/// Splits a Praat text file (long or short format) into strings, numbers and
/// `<exists>`/`<absent>` flags with their line numbers. Labels (`xmin =`,
/// `intervals:`), bracketed indices (`item [1]:`) and `!` comments are skipped,
/// which makes the long and the short format the same token sequence.
fn tokenize(text: &str, path: &Path) -> Result<Vec<(Tok, usize)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<(Tok, usize)>, line: usize| {
        if word.is_empty() {
            return;
        }
        match word.as_str() {
            "<exists>" => out.push((Tok::Flag(true), line)),
            "<absent>" => out.push((Tok::Flag(false), line)),
            w => match w.parse::<f64>() {
                Ok(v) => out.push((Tok::Num(v), line)),
                Err(_) => out.push((Tok::Word(w.to_string()), line)),
            },
        }
        word.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                flush(&mut word, &mut out, line);
                let start_line = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            s.push('"');
                        }
                        Some('"') => break,
                        Some(ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            s.push(ch);
                        }
                        None => {
                            return Err(format_error(
                                path,
                                format!("line {start_line}: unterminated string"),
                            ))
                        }
                    }
                }
                out.push((Tok::Str(s), start_line));
            }
            '[' => {
                flush(&mut word, &mut out, line);
                for ch in chars.by_ref() {
                    if ch == ']' {
                        break;
                    }
                }
            }
            '!' => {
                flush(&mut word, &mut out, line);
                for ch in chars.by_ref() {
                    if ch == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            c if c.is_whitespace() => {
                flush(&mut word, &mut out, line);
                if c == '\n' {
                    line += 1;
                }
            }
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out, line);
    drop_labels(out, path)
}

/// Removes labels: bare words ending at a terminator on the same line, the
/// terminator being `=` or a word ending in `:` or `?` (`File type =`,
/// `intervals: size =`, `item []:`, `tiers?`). Any other bare word is an error
/// (e.g. a time that is not a number).
fn drop_labels(toks: Vec<(Tok, usize)>, path: &Path) -> Result<Vec<(Tok, usize)>> {
    let mut out = Vec::with_capacity(toks.len());
    let mut pending: Vec<(String, usize)> = Vec::new();
    let bad = |(w, l): &(String, usize)| {
        format_error(
            path,
            format!("line {l}: unexpected '{w}' (a number or a quoted string expected)"),
        )
    };
    for (t, l) in toks {
        match t {
            Tok::Word(w) => {
                if w == "=" || w.ends_with([':', '?', '=']) {
                    if let Some(p) = pending.iter().find(|p| p.1 != l) {
                        return Err(bad(p));
                    }
                    pending.clear();
                } else {
                    pending.push((w, l));
                }
            }
            t => {
                if let Some(p) = pending.first() {
                    return Err(bad(p));
                }
                out.push((t, l));
            }
        }
    }
    match pending.first() {
        Some(p) => Err(bad(p)),
        None => Ok(out),
    }
}

/// One tier of a TextGrid.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// Tier name.
    pub name: String,
    /// An interval tier (`IntervalTier`), else a point tier (`TextTier`).
    pub interval: bool,
    /// Start of the tier, seconds.
    pub xmin: f64,
    /// End of the tier, seconds.
    pub xmax: f64,
    /// `(xmin, xmax, text, line)`; points have xmin == xmax.
    pub items: Vec<(f64, f64, String, usize)>,
}

/// A whole Praat TextGrid: its time domain and tiers in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct TextGrid {
    /// Start of the time domain, seconds.
    pub xmin: f64,
    /// End of the time domain, seconds.
    pub xmax: f64,
    /// The tiers.
    pub tiers: Vec<Tier>,
}

/// Reads a TextGrid (long or short text format, UTF-8 or UTF-16).
pub fn read_textgrid(path: &Path) -> Result<TextGrid> {
    let text = read_text(path)?;
    parse_textgrid(&text, path)
}

fn parse_textgrid(text: &str, path: &Path) -> Result<TextGrid> {
    let toks = tokenize(text, path)?;
    let mut it = toks.into_iter().peekable();
    let last_line = |it: &mut std::iter::Peekable<std::vec::IntoIter<(Tok, usize)>>| {
        it.peek().map_or(0, |t| t.1)
    };
    macro_rules! next_num {
        ($what:expr) => {
            match it.next() {
                Some((Tok::Num(v), _)) => v,
                Some((t, l)) => {
                    return Err(format_error(
                        path,
                        format!("line {l}: expected {} (a number), found {t:?}", $what),
                    ))
                }
                None => {
                    return Err(format_error(
                        path,
                        format!("unexpected end of file, expected {}", $what),
                    ))
                }
            }
        };
    }
    macro_rules! next_str {
        ($what:expr) => {
            match it.next() {
                Some((Tok::Str(s), l)) => (s, l),
                Some((t, l)) => {
                    return Err(format_error(
                        path,
                        format!(
                            "line {l}: expected {} (a quoted string), found {t:?}",
                            $what
                        ),
                    ))
                }
                None => {
                    return Err(format_error(
                        path,
                        format!("unexpected end of file, expected {}", $what),
                    ))
                }
            }
        };
    }
    let (ftype, l) = next_str!("the file type");
    if ftype != "ooTextFile" {
        return Err(format_error(
            path,
            format!("line {l}: not a Praat text file (file type '{ftype}'; binary TextGrids are not supported, save as text)"),
        ));
    }
    let (class, l) = next_str!("the object class");
    if class != "TextGrid" {
        return Err(format_error(
            path,
            format!("line {l}: object class '{class}', expected 'TextGrid'"),
        ));
    }
    let xmin = next_num!("xmin");
    let xmax = next_num!("xmax");
    match it.next() {
        Some((Tok::Flag(true), _)) => {}
        Some((Tok::Flag(false), _)) => {
            return Ok(TextGrid {
                xmin,
                xmax,
                tiers: Vec::new(),
            })
        }
        Some((t, l)) => {
            return Err(format_error(
                path,
                format!("line {l}: expected <exists> or <absent>, found {t:?}"),
            ))
        }
        None => return Err(format_error(path, "unexpected end of file")),
    }
    let n = next_num!("the number of tiers");
    let mut tiers = Vec::new();
    for _ in 0..n as usize {
        let (class, l) = next_str!("a tier class");
        let interval = match class.as_str() {
            "IntervalTier" => true,
            "TextTier" => false,
            other => {
                return Err(format_error(
                    path,
                    format!("line {l}: unknown tier class '{other}'"),
                ))
            }
        };
        let (name, _) = next_str!("a tier name");
        let txmin = next_num!("tier xmin");
        let txmax = next_num!("tier xmax");
        let count = next_num!("the number of intervals");
        let mut items = Vec::new();
        for _ in 0..count as usize {
            let line = last_line(&mut it);
            let a = next_num!("a time");
            let b = if interval { next_num!("a time") } else { a };
            let (text, _) = next_str!("a label text");
            items.push((a, b, text, line));
        }
        tiers.push(Tier {
            name,
            interval,
            xmin: txmin,
            xmax: txmax,
            items,
        });
    }
    Ok(TextGrid { xmin, xmax, tiers })
}

/// The audio file next to a TextGrid (same stem, a known audio extension).
pub fn audio_for(grid: &Path) -> Result<PathBuf> {
    let stem = grid.with_extension("");
    for ext in AUDIO_EXTENSIONS {
        for e in [ext.to_string(), ext.to_ascii_uppercase()] {
            let p = stem.with_extension(&e);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(format_error(
        grid,
        format!(
            "no audio file next to it (looked for {}.wav/.flac/...)",
            stem.display()
        ),
    ))
}

fn read_textgrid_into(
    path: &Path,
    tier: Option<&str>,
    rows: &mut Vec<Row>,
    files: &mut Vec<(PathBuf, usize)>,
) -> Result<()> {
    let text = read_text(path)?;
    let tiers = parse_textgrid(&text, path)?.tiers;
    let chosen = match tier {
        Some(name) => tiers.iter().find(|t| t.name == name).ok_or_else(|| {
            format_error(
                path,
                format!(
                    "no tier named '{name}' (tiers: {})",
                    tiers
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?,
        None => tiers
            .iter()
            .find(|t| {
                t.interval
                    && (t.name.eq_ignore_ascii_case("words") || t.name.eq_ignore_ascii_case("word"))
            })
            .or_else(|| tiers.iter().find(|t| t.interval))
            .ok_or_else(|| format_error(path, "no interval tier"))?,
    };
    if !chosen.interval {
        return Err(format_error(
            path,
            format!(
                "tier '{}' is a point tier, not an interval tier",
                chosen.name
            ),
        ));
    }
    let audio = audio_for(path)?;
    files.push((audio.clone(), 0));
    // Errors must name the TextGrid, so checks on these rows run here.
    let mut mine = Vec::new();
    for (a, b, text, line) in &chosen.items {
        let word = text.trim();
        if word.is_empty() {
            continue;
        }
        if !(a.is_finite() && b.is_finite() && *a >= 0.0) {
            return Err(format_error(
                path,
                format!("line {line}: bad interval times"),
            ));
        }
        mine.push(Row {
            occ: Occurrence {
                file: audio.clone(),
                word: word.to_string(),
                start: *a,
                end: *b,
            },
            line: *line,
        });
    }
    finish(path, mine.clone(), vec![(audio, 0)])?;
    rows.extend(mine);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn textgrid_errors_are_one_line_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.TextGrid");
        fs::write(
            &p,
            "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\nxmin = 0\nxmax = 1\ntiers? <exists>\nsize = 1\nitem []:\n item [1]:\n  class = \"Interval\nTier\"\n",
        )
        .unwrap();
        let e = read_labels(&p, None).unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(
            e.contains("a.TextGrid") && e.contains("unknown tier class"),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn textgrid_folder_walk_visits_a_symlink_loop_once() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("sub")).unwrap();
        fs::write(d.path().join("a.TextGrid"), b"").unwrap();
        fs::write(d.path().join("sub/b.TextGrid"), b"").unwrap();
        std::os::unix::fs::symlink(".", d.path().join("x")).unwrap();
        std::os::unix::fs::symlink("..", d.path().join("sub/up")).unwrap();
        let mut grids = Vec::new();
        find_textgrids(d.path(), &mut grids).unwrap();
        let names: Vec<String> = grids
            .iter()
            .map(|f| f.strip_prefix(d.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.TextGrid", "sub/b.TextGrid"]);
    }

    use super::*;

    fn setup(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in files {
            fs::write(d.path().join(f), b"RIFF").unwrap();
        }
        d
    }

    #[test]
    fn tsv_with_header_background_rows_and_comments() {
        let d = setup(&["a.wav", "b.wav", "c.wav"]);
        let p = d.path().join("labels.tsv");
        fs::write(
            &p,
            "file\tword\tstart\tend\n# comment\na.wav\tseven\t0.5\t0.9\n\nb.wav\tseven\t1\t1.4\na.wav\tone\t0.1\t0.4\nc.wav\n",
        )
        .unwrap();
        let l = read_labels(&p, None).unwrap();
        assert_eq!(l.files.len(), 3);
        assert_eq!(l.occurrences.len(), 3);
        assert_eq!(l.words(), vec!["one", "seven"]);
        assert_eq!(l.occurrences[0].word, "one"); // sorted by file then start
        assert_eq!(l.in_file(&d.path().join("a.wav")).count(), 2);
    }

    #[test]
    fn tsv_errors_name_the_line() {
        let d = setup(&["a.wav"]);
        let p = d.path().join("l.tsv");
        let cases = [
            (
                "a.wav\tx\t1.0\t0.5\n",
                "line 1: end 0.5 is not after start 1",
            ),
            (
                "a.wav\tx\t0\t1\nmissing.wav\tx\t0\t1\n",
                "line 2: unknown file",
            ),
            (
                "a.wav\tx\t0\t1\na.wav\tx\t0.5\t1.5\n",
                "line 2: 'x' at 0.5-1.5 overlaps",
            ),
            ("a.wav\tx\t0\tabc\n", "line 1: bad end 'abc'"),
            (
                "a.wav\tx\t0\t1\na.wav\tx\t-1\t2\n",
                "line 2: bad start '-1'",
            ),
            ("a.wav\tx\t0\n", "line 1: 3 columns"),
        ];
        for (text, want) in cases {
            fs::write(&p, text).unwrap();
            let e = read_labels(&p, None).unwrap_err().to_string();
            assert!(e.contains(want), "{e} (wanted {want})");
            assert!(e.contains("l.tsv"), "{e}");
        }
        // The same word may repeat without overlapping; other words may overlap.
        fs::write(&p, "a.wav\tx\t0\t1\na.wav\tx\t1\t2\na.wav\ty\t0.5\t1.5\n").unwrap();
        assert_eq!(read_labels(&p, None).unwrap().occurrences.len(), 3);
    }

    const LONG: &str = r#"File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0 
xmax = 3 
tiers? <exists> 
size = 2 
item []: 
    item [1]:
        class = "IntervalTier" 
        name = "phones" 
        xmin = 0 
        xmax = 3 
        intervals: size = 1 
        intervals [1]:
            xmin = 0 
            xmax = 3 
            text = "x" 
    item [2]:
        class = "IntervalTier" 
        name = "words" 
        xmin = 0 
        xmax = 3 
        intervals: size = 3 
        intervals [1]:
            xmin = 0 
            xmax = 1.25 
            text = "say ""hi""" 
        intervals [2]:
            xmin = 1.25 
            xmax = 2 
            text = "" 
        intervals [3]:
            xmin = 2 
            xmax = 3 
            text = "seven" 
"#;

    const SHORT: &str = "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n0\n3\n<exists>\n2\n\"TextTier\"\n\"clicks\"\n0\n3\n1\n0.5\n\"c\"\n\"IntervalTier\"\n\"syll\"\n0\n3\n2\n0\n1.5\n\"a\"\n1.5\n3\n\"b\"\n";

    #[test]
    fn textgrid_long_and_short_formats() {
        let d = setup(&["rec.wav", "s.flac"]);
        let p = d.path().join("rec.TextGrid");
        fs::write(&p, LONG).unwrap();
        let l = read_labels(&p, None).unwrap();
        let words: Vec<(&str, f64, f64)> = l
            .occurrences
            .iter()
            .map(|o| (o.word.as_str(), o.start, o.end))
            .collect();
        assert_eq!(words, vec![("say \"hi\"", 0.0, 1.25), ("seven", 2.0, 3.0)]);
        assert_eq!(l.files, vec![d.path().join("rec.wav")]);
        let l = read_labels(&p, Some("phones")).unwrap();
        assert_eq!(l.occurrences.len(), 1);
        let e = read_labels(&p, Some("nope")).unwrap_err().to_string();
        assert!(
            e.contains("no tier named 'nope'") && e.contains("phones, words"),
            "{e}"
        );

        let s = d.path().join("s.TextGrid");
        fs::write(&s, SHORT).unwrap();
        // No "words" tier: the first interval tier is used (the point tier is skipped).
        let l = read_labels(&s, None).unwrap();
        assert_eq!(l.occurrences.len(), 2);
        assert_eq!(l.occurrences[1].word, "b");
        assert!(read_labels(&s, Some("clicks")).is_err());

        // UTF-16 with BOM, as Praat writes for non-ASCII text.
        let u = d.path().join("u.TextGrid");
        fs::write(d.path().join("u.wav"), b"").unwrap();
        let mut bytes = vec![0xFF, 0xFE];
        for unit in LONG.replace("seven", "sieben\u{e4}").encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        fs::write(&u, bytes).unwrap();
        let l = read_labels(&u, None).unwrap();
        assert_eq!(l.occurrences[1].word, "sieben\u{e4}");

        // A folder reads every TextGrid in it.
        let l = read_labels(d.path(), None).unwrap();
        assert_eq!(l.files.len(), 3);
        assert_eq!(l.occurrences.len(), 2 + 2 + 2);
    }

    #[test]
    fn textgrid_errors() {
        let d = setup(&["g.wav"]);
        let p = d.path().join("g.TextGrid");
        fs::write(&p, LONG.replace("xmax = 1.25", "xmax = zz")).unwrap();
        let e = read_labels(&p, None).unwrap_err().to_string();
        assert!(e.contains("line 27") && e.contains("g.TextGrid"), "{e}");
        fs::write(
            &p,
            LONG.replace(
                "xmin = 2 \n            xmax = 3",
                "xmin = 2.5 \n            xmax = 2.2",
            ),
        )
        .unwrap();
        let e = read_labels(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("line 34") && e.contains("not after start"),
            "{e}"
        );
        let lone = d.path().join("lone.TextGrid");
        fs::write(&lone, LONG).unwrap();
        let e = read_labels(&lone, None).unwrap_err().to_string();
        assert!(e.contains("no audio file next to it"), "{e}");
        fs::write(&p, "File type = \"ooBinaryFile\"\n").unwrap();
        assert!(read_labels(&p, None).is_err());
        fs::write(&p, &LONG[..300]).unwrap();
        assert!(read_labels(&p, None).is_err());
    }
}
