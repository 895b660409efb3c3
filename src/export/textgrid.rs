//! Writing hits into Praat TextGrids (long text format).
//!
//! Each word becomes an interval tier `wordspot:WORD` covering the whole time
//! domain: the hits carry the word, the gaps between them are empty
//! intervals. Merging into an existing TextGrid (read by
//! [`crate::eval::labels::read_textgrid`], long or short format) replaces a
//! tier of the same name or appends one, keeps every other tier's name,
//! times and texts, and writes the whole grid in Praat's long text format
//! (what Praat itself writes, so the other tiers of a file Praat saved come
//! out byte-for-byte the same).

use super::{tier_name, WordSpans};
use crate::eval::labels::{TextGrid, Tier};

/// The grid `existing` (or a new one over `[0, duration]`) with one tier per
/// word. The time domain is widened to cover `duration` and every span.
pub fn merge(existing: Option<TextGrid>, words: &[WordSpans], duration: Option<f64>) -> TextGrid {
    let last = words
        .iter()
        .flat_map(|w| w.spans.iter().map(|s| s.1 as f64 / 1000.0))
        .fold(0.0f64, f64::max);
    let mut g = existing.unwrap_or(TextGrid {
        xmin: 0.0,
        xmax: 0.0,
        tiers: Vec::new(),
    });
    g.xmax = g.xmax.max(duration.unwrap_or(0.0)).max(last);
    for w in words {
        let t = interval_tier(&tier_name(&w.word), &w.word, &w.spans, g.xmin, g.xmax);
        match g.tiers.iter_mut().find(|x| x.name == t.name) {
            Some(x) => *x = t,
            None => g.tiers.push(t),
        }
    }
    g
}

/// An interval tier over `[xmin, xmax]` with `text` on `spans` (ms) and
/// empty intervals between.
fn interval_tier(name: &str, text: &str, spans: &[(i64, i64)], xmin: f64, xmax: f64) -> Tier {
    let mut items = Vec::with_capacity(2 * spans.len() + 1);
    let mut t = xmin;
    for &(a, b) in spans {
        let (a, b) = ((a as f64 / 1000.0).max(t), (b as f64 / 1000.0).min(xmax));
        if b <= a {
            continue;
        }
        if a > t {
            items.push((t, a, String::new(), 0));
        }
        items.push((a, b, text.to_string(), 0));
        t = b;
    }
    if t < xmax || items.is_empty() {
        items.push((t, xmax, String::new(), 0));
    }
    Tier {
        name: name.to_string(),
        interval: true,
        xmin,
        xmax,
        items,
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The grid in Praat's long text format (UTF-8).
pub fn write_long(g: &TextGrid) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = write!(
        o,
        "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\nxmin = {} \nxmax = {} \n",
        g.xmin, g.xmax
    );
    if g.tiers.is_empty() {
        o.push_str("tiers? <absent> \n");
        return o;
    }
    let _ = write!(
        o,
        "tiers? <exists> \nsize = {} \nitem []: \n",
        g.tiers.len()
    );
    for (i, t) in g.tiers.iter().enumerate() {
        let _ = write!(
            o,
            "    item [{}]:\n        class = {} \n        name = {} \n        xmin = {} \n        xmax = {} \n",
            i + 1,
            quote(if t.interval { "IntervalTier" } else { "TextTier" }),
            quote(&t.name),
            t.xmin,
            t.xmax
        );
        if t.interval {
            let _ = writeln!(o, "        intervals: size = {} ", t.items.len());
            for (j, (a, b, text, _)) in t.items.iter().enumerate() {
                let _ = write!(
                    o,
                    "        intervals [{}]:\n            xmin = {a} \n            xmax = {b} \n            text = {} \n",
                    j + 1,
                    quote(text)
                );
            }
        } else {
            let _ = writeln!(o, "        points: size = {} ", t.items.len());
            for (j, (a, _, text, _)) in t.items.iter().enumerate() {
                let _ = write!(
                    o,
                    "        points [{}]:\n            number = {a} \n            mark = {} \n",
                    j + 1,
                    quote(text)
                );
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_fills_gaps_and_clips() {
        let t = interval_tier(
            "w",
            "x",
            &[(500, 1000), (1000, 1500), (2900, 3500)],
            0.0,
            3.0,
        );
        let spans: Vec<(f64, f64, &str)> =
            t.items.iter().map(|i| (i.0, i.1, i.2.as_str())).collect();
        assert_eq!(
            spans,
            vec![
                (0.0, 0.5, ""),
                (0.5, 1.0, "x"),
                (1.0, 1.5, "x"),
                (1.5, 2.9, ""),
                (2.9, 3.0, "x")
            ]
        );
        let empty = interval_tier("w", "x", &[], 0.0, 2.0);
        assert_eq!(empty.items.len(), 1);
    }
}
