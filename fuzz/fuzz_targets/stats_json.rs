//! Arbitrary bytes as a normalizer statistics file (`Stats::load`, then the
//! normalizers built from it applied to a frame): Ok or an error naming the
//! file, never a panic, and a loaded file never turns a finite frame into
//! non-finite numbers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wordspot::normalize::{Normalizer, Stats};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("wordspot-fuzz-stats-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("stats.json");
    std::fs::write(&path, data).unwrap();
    let st = match Stats::load(&path) {
        Ok(s) => s,
        Err(e) => {
            assert!(e.to_string().contains("stats.json"), "{e}");
            return;
        }
    };
    let frontend = st.frontend.clone();
    let dim = st.dim;
    if dim == 0 || dim > 4096 {
        return;
    }
    for spec in ["standardize", "drop:1", "pca:1"] {
        if let Ok(n) = Normalizer::from_spec(spec, Some(&path), &frontend, dim) {
            let frame = vec![0.5f32; dim];
            let mut out = vec![0.0f32; n.out_dim()];
            n.apply(&frame, &mut out);
            assert!(out.iter().all(|v| v.is_finite()), "{spec}: {out:?}");
        }
    }
});
