//! Hits of one recording as CSV: `word,rank,file_rank,file,start,end,distance`
//! (seconds to the millisecond; RFC 4180 quoting).

use super::ms;
use crate::search::WordHit;

/// Quotes a field when it holds a comma, a quote or a line break.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV text of `hits` (in the given order) with a header line.
pub fn write(hits: &[&WordHit]) -> String {
    let mut o = String::from("word,rank,file_rank,file,start,end,distance\n");
    for h in hits {
        o.push_str(&format!(
            "{},{},{},{},{:.3},{:.3},{:.4}\n",
            field(&h.word),
            h.rank,
            h.file_rank,
            field(&h.file.display().to_string()),
            ms(h.start) as f64 / 1000.0,
            ms(h.end) as f64 / 1000.0,
            h.distance
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("plain"), "plain");
        let h = WordHit {
            rank: 2,
            file: "a, b.wav".into(),
            start: 1.23449,
            end: 2.0,
            distance: 0.25,
            word: "x".into(),
            file_rank: 1,
        };
        assert_eq!(
            write(&[&h]),
            "word,rank,file_rank,file,start,end,distance\nx,2,1,\"a, b.wav\",1.234,2.000,0.2500\n"
        );
    }
}
