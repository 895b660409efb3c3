//! Arbitrary text as a template-store manifest (`Manifest::parse`): Ok or an
//! error naming the file, never a panic; a manifest that parses names its
//! take files inside the keyword folder and survives a write/read round trip.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wordspot::templates::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("kw/manifest.json");
    match Manifest::parse(text, path) {
        Ok(m) => {
            for t in &m.takes {
                assert!(!t.file.contains('/') && t.file != ".." && t.file != ".");
            }
            let again = serde_json::to_string(&m).unwrap();
            let back = Manifest::parse(&again, path).unwrap();
            assert_eq!(back.takes.len(), m.takes.len());
        }
        Err(e) => assert!(e.to_string().starts_with("kw/manifest.json: ")),
    }
});
