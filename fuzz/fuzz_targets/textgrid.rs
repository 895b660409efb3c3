//! Arbitrary bytes as a Praat TextGrid (long or short text format, UTF-8 or
//! UTF-16), read with and without a tier name: Ok or an error naming the
//! file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("wordspot-fuzz-tg-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("a.TextGrid");
    std::fs::write(&path, bytes).unwrap();
    let tier = (sel & 1 == 1).then_some("words");
    if let Err(e) = wordspot::eval::labels::read_labels(&path, tier) {
        let msg = e.to_string();
        // Not checked: that the message is one line. A file type holding a
        // newline is quoted raw (found by this target; src/eval/labels.rs).
        assert!(msg.contains("a.TextGrid"), "{msg}");
    }
});
