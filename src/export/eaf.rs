//! Writing hits into ELAN annotation documents (EAF 3.0).
//!
//! A new document is a minimal EAF 3.0 file (header with the media linked by
//! absolute `MEDIA_URL` and relative `RELATIVE_MEDIA_URL`, time slots in
//! milliseconds) into which the hits are merged like into any existing one.
//!
//! Merging parses the document with `quick-xml` only to locate byte offsets,
//! then splices: new `TIME_SLOT`s at the end of `TIME_ORDER`, one `TIER`
//! (`wordspot:WORD`, linguistic type `wordspot`) per word after the last
//! tier, the `wordspot` linguistic type when missing, and an updated
//! `lastUsedAnnotationId`. A tier of the same name from an earlier run is
//! removed with the time slots only it used. Every other byte of the
//! document is copied unchanged, so other tiers stay byte-for-byte the same.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::{relative_path, tier_name, WordSpans};
use crate::annotations::attr;
use crate::{Error, Result};

/// The linguistic type of wordspot's tiers.
pub const LINGUISTIC_TYPE: &str = "wordspot";

/// The media link of a new document.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// `file:///…` URL of the recording.
    pub url: String,
    /// The recording relative to the document's folder (`./a.wav`, `../x/a.wav`).
    pub relative_url: String,
    /// MIME type by extension.
    pub mime: String,
}

impl Media {
    /// The link to `recording` (absolute) from a document in `doc_dir` (absolute).
    pub fn for_recording(recording: &Path, doc_dir: &Path) -> Media {
        let abs = recording.to_string_lossy().replace('\\', "/");
        let rel = relative_path(doc_dir, recording);
        let rel = if rel.starts_with("..") {
            rel
        } else {
            format!("./{rel}")
        };
        let ext = recording
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mime = match ext.as_str() {
            "wav" | "wave" => "audio/x-wav",
            "mp3" => "audio/mpeg",
            "flac" => "audio/flac",
            "ogg" | "oga" => "audio/ogg",
            _ => "application/octet-stream",
        };
        let abs = if abs.starts_with('/') {
            abs
        } else {
            format!("/{abs}")
        };
        Media {
            url: format!("file://{}", url_escape(&abs)),
            relative_url: url_escape(&rel),
            mime: mime.to_string(),
        }
    }
}

/// Percent-encodes the characters of a path that cannot stand in a URI.
fn url_escape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            c => out.push(c),
        }
    }
    out
}

/// The current UTC time as an `xsd:dateTime` (`2024-05-01T12:00:00+00:00`).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    utc_datetime(secs)
}

/// Seconds since the Unix epoch as an `xsd:dateTime` in UTC.
pub fn utc_datetime(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A minimal, empty EAF 3.0 document.
pub fn new_document(media: Option<&Media>, date: &str) -> String {
    let media = media.map_or(String::new(), |m| {
        format!(
            "        <MEDIA_DESCRIPTOR MEDIA_URL=\"{}\" MIME_TYPE=\"{}\" RELATIVE_MEDIA_URL=\"{}\"/>\n",
            escape(m.url.as_str()),
            escape(m.mime.as_str()),
            escape(m.relative_url.as_str())
        )
    });
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="wordspot" DATE="{date}" FORMAT="3.0" VERSION="3.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd">
    <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">
{media}        <PROPERTY NAME="lastUsedAnnotationId">0</PROPERTY>
    </HEADER>
    <TIME_ORDER/>
</ANNOTATION_DOCUMENT>
"#
    )
}

/// Byte ranges and ids found in a document.
#[derive(Default)]
struct Layout {
    /// `</TIME_ORDER>` start, or the range of an empty `<TIME_ORDER/>`.
    time_order_close: Option<usize>,
    time_order_empty: Option<(usize, usize)>,
    time_order_end: Option<usize>,
    /// `TIME_SLOT_ID` → element range.
    slots: HashMap<String, (usize, usize)>,
    /// Tiers: id, range, time slots referenced.
    tiers: Vec<(String, (usize, usize), Vec<String>)>,
    annotation_ids: HashSet<String>,
    linguistic_types: Vec<String>,
    last_lt_end: Option<usize>,
    /// Text range and value of the `lastUsedAnnotationId` property.
    last_used: Option<((usize, usize), i64)>,
    header_close: Option<usize>,
    /// `MEDIA_DESCRIPTOR` element ranges with their `RELATIVE_MEDIA_URL`.
    media: Vec<((usize, usize), String)>,
    root: bool,
}

fn scan(text: &str, path: &Path) -> Result<Layout> {
    let mut r = Reader::from_str(text);
    r.config_mut().trim_text(false);
    let mut l = Layout::default();
    let mut tier: Option<(String, usize, Vec<String>)> = None;
    let mut slot_start: Option<(String, usize)> = None;
    let mut lt_open = false;
    let mut in_last_used = false;
    loop {
        let before = r.buffer_position() as usize;
        let ev = r.read_event().map_err(|e| {
            Error::format(
                path,
                format!("XML error near byte {}: {e}", r.buffer_position()),
            )
        })?;
        let after = r.buffer_position() as usize;
        match &ev {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(ev, Event::Empty(_));
                match e.name().as_ref() {
                    b"ANNOTATION_DOCUMENT" => l.root = true,
                    b"MEDIA_DESCRIPTOR" => {
                        if let Some(u) = attr(e, "RELATIVE_MEDIA_URL") {
                            l.media.push(((before, after), u));
                        }
                    }
                    b"TIME_ORDER" if empty => {
                        l.time_order_empty = Some((before, after));
                        l.time_order_end = Some(after);
                    }
                    b"TIME_SLOT" => {
                        let id = attr(e, "TIME_SLOT_ID").unwrap_or_default();
                        if empty {
                            l.slots.insert(id, (before, after));
                        } else {
                            slot_start = Some((id, before));
                        }
                    }
                    b"TIER" => {
                        let id = attr(e, "TIER_ID").unwrap_or_default();
                        if empty {
                            l.tiers.push((id, (before, after), Vec::new()));
                        } else {
                            tier = Some((id, before, Vec::new()));
                        }
                    }
                    b"ALIGNABLE_ANNOTATION" | b"REF_ANNOTATION" => {
                        if let Some(id) = attr(e, "ANNOTATION_ID") {
                            l.annotation_ids.insert(id);
                        }
                        if let Some(t) = tier.as_mut() {
                            for a in ["TIME_SLOT_REF1", "TIME_SLOT_REF2"] {
                                if let Some(s) = attr(e, a) {
                                    t.2.push(s);
                                }
                            }
                        }
                    }
                    b"LINGUISTIC_TYPE" => {
                        l.linguistic_types
                            .push(attr(e, "LINGUISTIC_TYPE_ID").unwrap_or_default());
                        if empty {
                            l.last_lt_end = Some(after);
                        } else {
                            lt_open = true;
                        }
                    }
                    b"PROPERTY" if !empty => {
                        in_last_used = attr(e, "NAME").as_deref() == Some("lastUsedAnnotationId");
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_last_used => {
                let v = t.unescape().map_or(0, |s| s.trim().parse().unwrap_or(0));
                l.last_used = Some(((before, after), v));
            }
            Event::End(e) => match e.name().as_ref() {
                b"TIME_ORDER" => {
                    l.time_order_close = Some(before);
                    l.time_order_end = Some(after);
                }
                b"TIME_SLOT" => {
                    if let Some((id, s)) = slot_start.take() {
                        l.slots.insert(id, (s, after));
                    }
                }
                b"TIER" => {
                    if let Some((id, s, refs)) = tier.take() {
                        l.tiers.push((id, (s, after), refs));
                    }
                }
                b"LINGUISTIC_TYPE" if lt_open => {
                    lt_open = false;
                    l.last_lt_end = Some(after);
                }
                b"PROPERTY" => in_last_used = false,
                b"HEADER" => l.header_close = Some(before),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if !l.root {
        return Err(Error::format(
            path,
            "not an ELAN file (no ANNOTATION_DOCUMENT element)",
        ));
    }
    if l.time_order_end.is_none() {
        return Err(Error::format(path, "no TIME_ORDER element"));
    }
    Ok(l)
}

/// The edit replacing the `RELATIVE_MEDIA_URL` value inside the element at
/// `range` by the same file seen from folder `to` instead of `from`.
fn relocated(
    text: &str,
    (a, b): (usize, usize),
    url: &str,
    from: &Path,
    to: &Path,
) -> Option<(usize, usize, String)> {
    let rest = url.strip_prefix("file:").unwrap_or(url);
    if rest.starts_with('/') {
        return None; // not relative
    }
    let target = from.join(crate::annotations::percent_decode(rest));
    // Lexically normalise `a/./b/../c` (the file need not exist).
    let mut norm = std::path::PathBuf::new();
    for c in target.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                norm.pop();
            }
            c => norm.push(c),
        }
    }
    let rel = relative_path(to, &norm);
    let rel = if rel.starts_with("..") {
        rel
    } else {
        format!("./{rel}")
    };
    let el = &text[a..b];
    let at = el.find("RELATIVE_MEDIA_URL")?;
    let after = &el[at..];
    let eq = after.find('=')?;
    let q_off = after[eq..].find(['"', '\''])? + eq;
    let q = after.as_bytes()[q_off];
    let start = at + q_off + 1;
    let len = el[start..].find(q as char)?;
    Some((
        a + start,
        a + start + len,
        escape(url_escape(&rel).as_str()).into_owned(),
    ))
}

/// Start of the line holding `pos` when only spaces precede it on that line
/// (so an insertion there keeps the indentation), else `pos`.
fn line_start(text: &str, pos: usize) -> (usize, bool) {
    let head = &text[..pos];
    let ls = head.rfind('\n').map_or(0, |i| i + 1);
    if head[ls..].chars().all(|c| c == ' ' || c == '\t') {
        (ls, false)
    } else {
        (pos, true)
    }
}

/// A removal range widened over the indentation and line break before it.
fn widen(text: &str, (mut s, e): (usize, usize)) -> (usize, usize) {
    let b = text.as_bytes();
    while s > 0 && (b[s - 1] == b' ' || b[s - 1] == b'\t') {
        s -= 1;
    }
    if s > 0 && b[s - 1] == b'\n' {
        s -= 1;
        if s > 0 && b[s - 1] == b'\r' {
            s -= 1;
        }
    }
    (s, e)
}

/// Next free id `PREFIXn` after the largest numeric one in use.
fn id_gen<'a>(
    prefix: &'a str,
    used: &'a HashSet<String>,
    floor: i64,
) -> impl FnMut() -> String + 'a {
    let mut n = used
        .iter()
        .filter_map(|id| id.strip_prefix(prefix)?.parse::<i64>().ok())
        .max()
        .unwrap_or(0)
        .max(floor);
    move || loop {
        n += 1;
        let id = format!("{prefix}{n}");
        if !used.contains(&id) {
            return id;
        }
    }
}

/// Merges `words` into the EAF document `text` (from `path`, for errors):
/// one tier `wordspot:WORD` per word with one annotation per span. Returns
/// the new document. With `relocate = Some((from, to))` (absolute folders)
/// the document is being copied from folder `from` to folder `to`, and its
/// `RELATIVE_MEDIA_URL`s are rewritten to point at the same files from `to`.
pub fn merge(
    text: &str,
    path: &Path,
    words: &[WordSpans],
    relocate: Option<(&Path, &Path)>,
) -> Result<String> {
    let l = scan(text, path)?;
    let names: HashSet<String> = words.iter().map(|w| tier_name(&w.word)).collect();
    // Edits as (start, end, replacement), applied back to front.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    if let Some((from, to)) = relocate.filter(|(f, t)| f != t) {
        for ((a, b), url) in &l.media {
            if let Some(e) = relocated(text, (*a, *b), url, from, to) {
                edits.push(e);
            }
        }
    }
    // Old wordspot tiers and the time slots only they use.
    let mut kept_refs: HashSet<&str> = HashSet::new();
    let mut dropped_refs: HashSet<&str> = HashSet::new();
    for (id, range, refs) in &l.tiers {
        if names.contains(id) {
            let (s, e) = widen(text, *range);
            edits.push((s, e, String::new()));
            dropped_refs.extend(refs.iter().map(String::as_str));
        } else {
            kept_refs.extend(refs.iter().map(String::as_str));
        }
    }
    for id in dropped_refs.difference(&kept_refs) {
        if let Some(r) = l.slots.get(*id) {
            let (s, e) = widen(text, *r);
            edits.push((s, e, String::new()));
        }
    }
    // New ids.
    let slot_ids: HashSet<String> = l.slots.keys().cloned().collect();
    let mut next_slot = id_gen("ts", &slot_ids, 0);
    let floor = l.last_used.as_ref().map_or(0, |x| x.1);
    let mut next_ann = id_gen("a", &l.annotation_ids, floor);
    let mut slots_xml = String::new();
    let mut tiers_xml = String::new();
    let mut last_ann = floor;
    for w in words {
        tiers_xml.push_str(&format!(
            "\n    <TIER LINGUISTIC_TYPE_REF=\"{LINGUISTIC_TYPE}\" TIER_ID=\"{}\">",
            escape(tier_name(&w.word).as_str())
        ));
        for &(a, b) in &w.spans {
            let (s1, s2) = (next_slot(), next_slot());
            slots_xml.push_str(&format!(
                "        <TIME_SLOT TIME_SLOT_ID=\"{s1}\" TIME_VALUE=\"{a}\"/>\n        <TIME_SLOT TIME_SLOT_ID=\"{s2}\" TIME_VALUE=\"{b}\"/>\n"
            ));
            let id = next_ann();
            last_ann = last_ann.max(id[1..].parse().unwrap_or(0));
            tiers_xml.push_str(&format!(
                "\n        <ANNOTATION>\n            <ALIGNABLE_ANNOTATION ANNOTATION_ID=\"{id}\" TIME_SLOT_REF1=\"{s1}\" TIME_SLOT_REF2=\"{s2}\">\n                <ANNOTATION_VALUE>{}</ANNOTATION_VALUE>\n            </ALIGNABLE_ANNOTATION>\n        </ANNOTATION>",
                escape(w.word.as_str())
            ));
        }
        tiers_xml.push_str("\n    </TIER>");
    }
    // Time slots.
    match (l.time_order_close, l.time_order_empty) {
        (Some(close), _) => {
            let (at, nl) = line_start(text, close);
            let mut s = String::new();
            if nl {
                s.push('\n');
            }
            s.push_str(&slots_xml);
            if nl {
                s.push_str("    ");
            }
            edits.push((at, at, s));
        }
        (None, Some((a, b))) => {
            edits.push((a, b, format!("<TIME_ORDER>\n{slots_xml}    </TIME_ORDER>")));
        }
        (None, None) => return Err(Error::format(path, "no TIME_ORDER element")),
    }
    // Tiers after the last kept tier (or the time order), then the type.
    let lt_missing = !l.linguistic_types.iter().any(|t| t == LINGUISTIC_TYPE);
    let lt_xml = format!(
        "\n    <LINGUISTIC_TYPE GRAPHIC_REFERENCES=\"false\" LINGUISTIC_TYPE_ID=\"{LINGUISTIC_TYPE}\" TIME_ALIGNABLE=\"true\"/>"
    );
    let last_tier_end = l
        .tiers
        .iter()
        .filter(|t| !names.contains(&t.0))
        .map(|t| t.1 .1)
        .max();
    let tiers_at = last_tier_end
        .or(l.time_order_end)
        .expect("scan checks TIME_ORDER");
    match (lt_missing, l.last_lt_end) {
        (true, Some(lt_end)) => {
            edits.push((tiers_at, tiers_at, tiers_xml));
            edits.push((lt_end, lt_end, lt_xml));
        }
        (true, None) => edits.push((tiers_at, tiers_at, tiers_xml + &lt_xml)),
        (false, _) => edits.push((tiers_at, tiers_at, tiers_xml)),
    }
    // lastUsedAnnotationId.
    match (&l.last_used, l.header_close) {
        (Some(((a, b), _)), _) => edits.push((*a, *b, last_ann.to_string())),
        (None, Some(close)) => {
            let (at, nl) = line_start(text, close);
            let p = format!(
                "{}        <PROPERTY NAME=\"lastUsedAnnotationId\">{last_ann}</PROPERTY>\n{}",
                if nl { "\n" } else { "" },
                if nl { "    " } else { "" }
            );
            edits.push((at, at, p));
        }
        (None, None) => {}
    }
    // Apply back to front: at one offset a removal goes before the
    // insertions, and insertions end up in the order they were pushed.
    let mut order: Vec<usize> = (0..edits.len()).collect();
    order.sort_by(|&x, &y| (edits[y].0, edits[y].1, y).cmp(&(edits[x].0, edits[x].1, x)));
    let mut out = text.to_string();
    for i in order {
        let (a, b, s) = &edits[i];
        out.replace_range(*a..*b, s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_datetime(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(utc_datetime(951_782_400), "2000-02-29T00:00:00+00:00");
        assert_eq!(utc_datetime(1_700_000_000), "2023-11-14T22:13:20+00:00");
    }

    #[test]
    fn media_links() {
        let m = Media::for_recording(Path::new("/data/rec one.wav"), Path::new("/out"));
        assert_eq!(m.url, "file:///data/rec%20one.wav");
        assert_eq!(m.relative_url, "../data/rec%20one.wav");
        assert_eq!(m.mime, "audio/x-wav");
        let m = Media::for_recording(Path::new("/data/a.flac"), Path::new("/data"));
        assert_eq!(m.relative_url, "./a.flac");
    }
}
