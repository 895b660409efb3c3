//! Hits of one recording as an Audacity label track: one line per hit,
//! `start<TAB>end<TAB>label` in seconds (Audacity's File > Import > Labels).

use super::WordSpans;

/// The label track text: every word's spans, sorted by start.
pub fn write(words: &[WordSpans]) -> String {
    let mut rows: Vec<(i64, i64, &str)> = words
        .iter()
        .flat_map(|w| w.spans.iter().map(move |s| (s.0, s.1, w.word.as_str())))
        .collect();
    rows.sort();
    let mut o = String::new();
    for (a, b, w) in rows {
        // Tabs or line breaks in a label would break the track.
        let label = w.replace(['\t', '\n', '\r'], " ");
        o.push_str(&format!(
            "{:.6}\t{:.6}\t{label}\n",
            a as f64 / 1000.0,
            b as f64 / 1000.0
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sorted_by_start() {
        let w = vec![
            WordSpans {
                word: "b".into(),
                spans: vec![(100, 250)],
            },
            WordSpans {
                word: "a\tx".into(),
                spans: vec![(50, 90), (1500, 2001)],
            },
        ];
        assert_eq!(
            write(&w),
            "0.050000\t0.090000\ta x\n0.100000\t0.250000\tb\n1.500000\t2.001000\ta x\n"
        );
    }
}
