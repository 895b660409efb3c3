//! Reading annotation files: ELAN (`.eaf`) and Praat (`.TextGrid`).
//!
//! Both are read into one model: named tiers of timed intervals with text.
//! TextGrids are parsed by [`crate::eval::labels::read_textgrid`] (long or
//! short text format). EAF files are parsed with `quick-xml`: time slots
//! (milliseconds), alignable annotations, and reference annotations (which
//! take the times of the annotation they refer to). Annotations on
//! unaligned time slots (no `TIME_VALUE`) have no time and are left out.
//!
//! The recording an annotation file describes is found from the EAF's
//! `MEDIA_DESCRIPTOR` (`RELATIVE_MEDIA_URL` relative to the EAF's folder, then
//! `MEDIA_URL`, then the same file name beside the EAF), or, for a TextGrid
//! (and an EAF without usable media), the audio file with the same stem.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::eval::labels::{audio_for, read_textgrid};
use crate::search::is_audio;
use crate::{Error, Result};

/// One timed annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds (equal to `start` for a Praat point).
    pub end: f64,
    /// The annotation text.
    pub text: String,
}

/// A named tier.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotationTier {
    /// Tier name (EAF `TIER_ID`, TextGrid tier name).
    pub name: String,
    /// Intervals with a time, in file order.
    pub intervals: Vec<Interval>,
}

/// The file format of an annotation file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationFormat {
    /// ELAN annotation document.
    Eaf,
    /// Praat TextGrid.
    TextGrid,
}

/// An annotation file read into tiers.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotations {
    /// The file read.
    pub path: PathBuf,
    /// Its format.
    pub format: AnnotationFormat,
    /// Media files the document links to, in document order (EAF only;
    /// resolved to paths, whether or not they exist).
    pub media: Vec<PathBuf>,
    /// The tiers, in file order.
    pub tiers: Vec<AnnotationTier>,
}

impl Annotations {
    /// The tier named `name`.
    pub fn tier(&self, name: &str) -> Option<&AnnotationTier> {
        self.tiers.iter().find(|t| t.name == name)
    }

    /// The recording this file annotates: the first linked media file that
    /// exists and is audio, else the same-stem audio file beside it.
    pub fn media_file(&self) -> Result<PathBuf> {
        if let Some(m) = self.media.iter().find(|m| m.is_file() && is_audio(m)) {
            return Ok(m.clone());
        }
        audio_for(&self.path).map_err(|e| match (self.format, self.media.first()) {
            (AnnotationFormat::Eaf, Some(m)) => Error::format(
                &self.path,
                format!(
                    "its media file {} does not exist (and no same-named audio file is beside it)",
                    m.display()
                ),
            ),
            _ => e,
        })
    }
}

/// True when the extension is `.eaf` (any case).
pub fn is_eaf(p: &Path) -> bool {
    ext_is(p, "eaf")
}

/// True when the extension is `.TextGrid` (any case).
pub fn is_textgrid(p: &Path) -> bool {
    ext_is(p, "textgrid")
}

fn ext_is(p: &Path, want: &str) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(want))
}

/// Reads an `.eaf` or `.TextGrid` file (chosen by extension).
pub fn read_annotations(path: &Path) -> Result<Annotations> {
    if is_eaf(path) {
        read_eaf(path)
    } else if is_textgrid(path) {
        let g = read_textgrid(path)?;
        Ok(Annotations {
            path: path.to_path_buf(),
            format: AnnotationFormat::TextGrid,
            media: Vec::new(),
            tiers: g
                .tiers
                .into_iter()
                .map(|t| AnnotationTier {
                    name: t.name,
                    intervals: t
                        .items
                        .into_iter()
                        .map(|(start, end, text, _)| Interval { start, end, text })
                        .collect(),
                })
                .collect(),
        })
    } else {
        Err(Error::format(
            path,
            "not an annotation file (expected .eaf or .TextGrid)",
        ))
    }
}

/// The value of attribute `name`, unescaped.
pub(crate) fn attr(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name.as_bytes())
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// Decodes `%XX` escapes of a URL path.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A media URL of an EAF as a path: `file:///a/b.wav` → `/a/b.wav`;
/// relative ones (`./b.wav`, `file:./b.wav`) against `base`.
fn url_to_path(url: &str, base: &Path) -> PathBuf {
    let u = url.trim();
    let rest = u
        .strip_prefix("file://")
        .or_else(|| u.strip_prefix("file:"))
        .unwrap_or(u);
    let p = PathBuf::from(percent_decode(rest));
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

struct RawAnnotation {
    tier: usize,
    value: String,
    /// Alignable: time slot ids; reference: the referred annotation id.
    slots: Option<(String, String)>,
    refers: Option<String>,
}

/// Reads an ELAN annotation document.
pub fn read_eaf(path: &Path) -> Result<Annotations> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut r = Reader::from_str(&text);
    r.config_mut().trim_text(false);
    let mut slots: HashMap<String, Option<i64>> = HashMap::new();
    let mut tiers: Vec<String> = Vec::new();
    let mut anns: Vec<(String, RawAnnotation)> = Vec::new();
    let mut media = Vec::new();
    let mut relative_media = Vec::new();
    let mut in_tier: Option<usize> = None;
    let mut in_value = false;
    let mut root_seen = false;
    let xml_err = |pos: u64, e: &dyn std::fmt::Display| {
        Error::format(path, format!("XML error near byte {pos}: {e}"))
    };
    loop {
        let ev = r
            .read_event()
            .map_err(|e| xml_err(r.buffer_position(), &e))?;
        let (e, empty) = match &ev {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = e {
            let name = e.name();
            let need = |a: &str| {
                attr(e, a).ok_or_else(|| {
                    Error::format(
                        path,
                        format!(
                            "near byte {}: <{}> without {a}",
                            r.buffer_position(),
                            String::from_utf8_lossy(name.as_ref())
                        ),
                    )
                })
            };
            match name.as_ref() {
                b"ANNOTATION_DOCUMENT" => root_seen = true,
                b"MEDIA_DESCRIPTOR" => {
                    if let Some(u) = attr(e, "RELATIVE_MEDIA_URL").filter(|u| !u.is_empty()) {
                        relative_media.push(url_to_path(&u, base));
                    }
                    if let Some(u) = attr(e, "MEDIA_URL").filter(|u| !u.is_empty()) {
                        let p = url_to_path(&u, base);
                        if let Some(n) = p.file_name() {
                            relative_media.push(base.join(n));
                        }
                        media.push(p);
                    }
                }
                b"TIME_SLOT" => {
                    let id = need("TIME_SLOT_ID")?;
                    let v = match attr(e, "TIME_VALUE") {
                        None => None,
                        Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
                            Error::format(
                                path,
                                format!(
                                    "time slot {id}: bad TIME_VALUE '{v}' (milliseconds expected)"
                                ),
                            )
                        })?),
                    };
                    slots.insert(id, v);
                }
                b"TIER" => {
                    tiers.push(need("TIER_ID")?);
                    in_tier = (!empty).then_some(tiers.len() - 1);
                }
                b"ALIGNABLE_ANNOTATION" | b"REF_ANNOTATION" => {
                    let tier = in_tier
                        .ok_or_else(|| Error::format(path, "an annotation outside any <TIER>"))?;
                    let id = need("ANNOTATION_ID")?;
                    let (slots, refers) = if name.as_ref() == b"ALIGNABLE_ANNOTATION" {
                        (
                            Some((need("TIME_SLOT_REF1")?, need("TIME_SLOT_REF2")?)),
                            None,
                        )
                    } else {
                        (None, Some(need("ANNOTATION_REF")?))
                    };
                    anns.push((
                        id,
                        RawAnnotation {
                            tier,
                            value: String::new(),
                            slots,
                            refers,
                        },
                    ));
                }
                b"ANNOTATION_VALUE" => in_value = !empty,
                _ => {}
            }
        }
        match &ev {
            Event::Text(t) if in_value => {
                let s = t.unescape().map_err(|e| xml_err(r.buffer_position(), &e))?;
                if let Some(a) = anns.last_mut() {
                    a.1.value.push_str(&s);
                }
            }
            Event::CData(c) if in_value => {
                if let Some(a) = anns.last_mut() {
                    a.1.value.push_str(&String::from_utf8_lossy(c));
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"ANNOTATION_VALUE" => in_value = false,
                b"TIER" => in_tier = None,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(Error::format(
            path,
            "not an ELAN file (no ANNOTATION_DOCUMENT element)",
        ));
    }
    // Resolve times: alignable annotations from their slots, references
    // from the annotation they refer to (a chain of at most 32).
    let index: HashMap<&str, usize> = anns
        .iter()
        .enumerate()
        .map(|(i, a)| (a.0.as_str(), i))
        .collect();
    let times = |mut i: usize| -> Option<(i64, i64)> {
        for _ in 0..32 {
            let a = &anns[i].1;
            if let Some((s1, s2)) = &a.slots {
                let a = (*slots.get(s1)?)?;
                let b = (*slots.get(s2)?)?;
                return Some((a, b));
            }
            i = *index.get(a.refers.as_deref()?)?;
        }
        None
    };
    let mut out: Vec<AnnotationTier> = tiers
        .into_iter()
        .map(|name| AnnotationTier {
            name,
            intervals: Vec::new(),
        })
        .collect();
    for (i, (_, a)) in anns.iter().enumerate() {
        if let Some((s, e)) = times(i) {
            out[a.tier].intervals.push(Interval {
                start: s as f64 / 1000.0,
                end: e as f64 / 1000.0,
                text: a.value.clone(),
            });
        }
    }
    relative_media.extend(media);
    Ok(Annotations {
        path: path.to_path_buf(),
        format: AnnotationFormat::Eaf,
        media: relative_media,
        tiers: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EAF: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="" DATE="2024-01-01T00:00:00+00:00" FORMAT="3.0" VERSION="3.0">
    <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">
        <MEDIA_DESCRIPTOR MEDIA_URL="file:///nowhere/rec%20one.wav" MIME_TYPE="audio/x-wav" RELATIVE_MEDIA_URL="./rec one.wav"/>
    </HEADER>
    <TIME_ORDER>
        <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="120"/>
        <TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="870"/>
        <TIME_SLOT TIME_SLOT_ID="ts3"/>
    </TIME_ORDER>
    <TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="words">
        <ANNOTATION>
            <ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2">
                <ANNOTATION_VALUE>caf&#233; &amp; co</ANNOTATION_VALUE>
            </ALIGNABLE_ANNOTATION>
        </ANNOTATION>
        <ANNOTATION>
            <ALIGNABLE_ANNOTATION ANNOTATION_ID="a2" TIME_SLOT_REF1="ts2" TIME_SLOT_REF2="ts3">
                <ANNOTATION_VALUE>unaligned</ANNOTATION_VALUE>
            </ALIGNABLE_ANNOTATION>
        </ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="gloss" PARENT_REF="words" TIER_ID="gloss">
        <ANNOTATION>
            <REF_ANNOTATION ANNOTATION_ID="a3" ANNOTATION_REF="a1">
                <ANNOTATION_VALUE>coffee</ANNOTATION_VALUE>
            </REF_ANNOTATION>
        </ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="empty"/>
    <LINGUISTIC_TYPE GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="default-lt" TIME_ALIGNABLE="true"/>
</ANNOTATION_DOCUMENT>
"#;

    #[test]
    fn eaf_tiers_references_and_media() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.eaf");
        std::fs::write(&p, EAF).unwrap();
        let a = read_annotations(&p).unwrap();
        assert_eq!(a.format, AnnotationFormat::Eaf);
        let names: Vec<&str> = a.tiers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["words", "gloss", "empty"]);
        assert_eq!(
            a.tier("words").unwrap().intervals,
            vec![Interval {
                start: 0.12,
                end: 0.87,
                text: "café & co".into()
            }]
        );
        assert_eq!(a.tier("gloss").unwrap().intervals[0].start, 0.12);
        assert_eq!(a.tier("gloss").unwrap().intervals[0].text, "coffee");
        assert_eq!(a.media[0], d.path().join("./rec one.wav"));
        assert!(a.media.contains(&PathBuf::from("/nowhere/rec one.wav")));
        // No media yet: the error names the EAF and the missing file.
        let e = a.media_file().unwrap_err().to_string();
        assert!(e.contains("x.eaf") && e.contains("rec one.wav"), "{e}");
        std::fs::write(d.path().join("rec one.wav"), b"").unwrap();
        assert_eq!(a.media_file().unwrap(), d.path().join("./rec one.wav"));
    }

    #[test]
    fn eaf_errors_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bad.eaf");
        for (text, want) in [
            ("<ANNOTATION_DOCUMENT><TIER>", "without TIER_ID"),
            ("<ANNOTATION_DOCUMENT></WRONG>", "XML error"),
            ("<HTML/>", "not an ELAN file"),
            (
                "<ANNOTATION_DOCUMENT><TIME_ORDER><TIME_SLOT TIME_SLOT_ID=\"t\" TIME_VALUE=\"x\"/></TIME_ORDER></ANNOTATION_DOCUMENT>",
                "bad TIME_VALUE 'x'",
            ),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = read_annotations(&p).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("bad.eaf"), "{e} (wanted {want})");
        }
    }

    #[test]
    fn percent_and_url() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(
            url_to_path("file:///a/b.wav", Path::new("/x")),
            PathBuf::from("/a/b.wav")
        );
        assert_eq!(
            url_to_path("file:./b.wav", Path::new("/x")),
            PathBuf::from("/x/./b.wav")
        );
    }
}
