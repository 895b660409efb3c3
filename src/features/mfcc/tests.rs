use super::*;
use proptest::prelude::*;

fn signal(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
            let t = i as f32 / 16000.0;
            0.3 * (2.0 * std::f32::consts::PI * (300.0 + 400.0 * t) * t).sin() + 0.05 * noise
        })
        .collect()
}

fn all_configs() -> Vec<MfccConfig> {
    let mut v = Vec::new();
    for deltas in [false, true] {
        for first in [FirstCoeff::C0, FirstCoeff::LogEnergy, FirstCoeff::Drop] {
            for norm in [MfccNorm::None, MfccNorm::Sliding, MfccNorm::Utterance] {
                v.push(MfccConfig {
                    deltas,
                    first,
                    norm,
                    norm_variance: deltas,
                    norm_window: 7,
                    ..MfccConfig::default()
                });
            }
        }
    }
    v
}

fn one_shot(cfg: &MfccConfig, x: &[f32]) -> Vec<f32> {
    let mut m = Mfcc::new(cfg.clone()).unwrap();
    let mut out = Vec::new();
    let a = m.push(x, &mut out).unwrap();
    let b = m.finish(&mut out).unwrap();
    assert_eq!((a + b) * m.dim(), out.len());
    out
}

fn in_blocks(cfg: &MfccConfig, x: &[f32], sizes: &[usize]) -> Vec<f32> {
    let mut m = Mfcc::new(cfg.clone()).unwrap();
    let mut out = Vec::new();
    let mut rest = x;
    let mut k = 0;
    while !rest.is_empty() {
        let n = sizes[k % sizes.len()].min(rest.len());
        let before = out.len();
        let got = m.push(&rest[..n], &mut out).unwrap();
        assert_eq!(got * m.dim(), out.len() - before);
        rest = &rest[n..];
        k += 1;
    }
    m.finish(&mut out).unwrap();
    out
}

fn expected_frames(n: usize) -> usize {
    if n < WINDOW {
        0
    } else {
        (n - WINDOW) / HOP + 1
    }
}

#[test]
fn frame_count_follows_the_convention() {
    for cfg in all_configs() {
        for n in [0, 1, 399, 400, 401, 559, 560, 561, 1000, 16000] {
            let out = one_shot(&cfg, &signal(n, 1));
            assert_eq!(out.len(), expected_frames(n) * cfg.dim(), "n={n} {cfg:?}");
        }
    }
}

#[test]
fn default_dims() {
    let c = MfccConfig::default();
    assert_eq!(c.n_coeffs, 13);
    assert_eq!(c.dim(), 39);
    // The default must give the same frames for a clip and inside a stream
    // prefix: no per-utterance statistics.
    assert_ne!(c.norm, MfccNorm::Utterance);
    let m = Mfcc::new(c.clone()).unwrap();
    assert_eq!(m.dim(), c.dim());
    assert_eq!((m.hop(), m.window()), (160, 400));
    let full = MfccConfig {
        first: FirstCoeff::C0,
        deltas: true,
        ..c
    };
    assert_eq!(full.dim(), 39);
}

#[test]
fn blocks_give_the_same_frames_as_one_push() {
    let x = signal(12_345, 7);
    for cfg in all_configs() {
        let whole = one_shot(&cfg, &x);
        for sizes in [
            &[1usize][..],
            &[159, 161, 7],
            &[400],
            &[4096, 3],
            &[100_000],
        ] {
            assert_eq!(in_blocks(&cfg, &x, sizes), whole, "{sizes:?} {cfg:?}");
        }
    }
}

#[test]
fn streaming_modes_emit_without_waiting_for_finish() {
    let x = signal(16_000, 3);
    let n = expected_frames(x.len());
    for (deltas, sliding) in [(false, false), (true, false), (true, true)] {
        let cfg = MfccConfig {
            deltas,
            norm: if sliding {
                MfccNorm::Sliding
            } else {
                MfccNorm::None
            },
            ..MfccConfig::default()
        };
        let mut m = Mfcc::new(cfg).unwrap();
        let mut out = Vec::new();
        let pushed = m.push(&x, &mut out).unwrap();
        let delay = if deltas { 2 } else { 0 };
        assert_eq!(pushed, n - delay);
        assert_eq!(m.finish(&mut out).unwrap(), delay);
    }
    let mut m = Mfcc::new(MfccConfig {
        norm: MfccNorm::Utterance,
        ..MfccConfig::default()
    })
    .unwrap();
    let mut out = Vec::new();
    assert_eq!(m.push(&x, &mut out).unwrap(), 0);
    assert_eq!(m.finish(&mut out).unwrap(), n);
}

#[test]
fn finish_resets_for_the_next_stream() {
    let x = signal(5000, 11);
    for cfg in all_configs() {
        let mut m = Mfcc::new(cfg.clone()).unwrap();
        let mut a = Vec::new();
        m.push(&x[..3000], &mut a).unwrap();
        m.finish(&mut a).unwrap();
        let mut b = Vec::new();
        m.push(&x, &mut b).unwrap();
        m.finish(&mut b).unwrap();
        assert_eq!(b, one_shot(&cfg, &x));
        m.push(&x[..2000], &mut Vec::new()).unwrap();
        m.reset();
        let mut c = Vec::new();
        m.push(&x, &mut c).unwrap();
        m.finish(&mut c).unwrap();
        assert_eq!(c, b);
    }
}

#[test]
fn static_frame_matches_a_naive_dft() {
    let cfg = MfccConfig {
        first: FirstCoeff::C0,
        deltas: false,
        norm: MfccNorm::None,
        ..MfccConfig::default()
    };
    let x = signal(400, 5);
    let got = one_shot(&cfg, &x);
    // Direct O(N²) evaluation of the same definition.
    let w = spectral::window(cfg.window, WINDOW);
    let mut y = vec![0f64; N_FFT];
    for i in 0..WINDOW {
        let prev = if i == 0 { x[0] } else { x[i - 1] };
        y[i] = ((x[i] - cfg.pre_emphasis * prev) * w[i]) as f64;
    }
    let power: Vec<f64> = (0..=N_FFT / 2)
        .map(|k| {
            let (mut re, mut im) = (0f64, 0f64);
            for (n, v) in y.iter().enumerate() {
                let ph = -2.0 * std::f64::consts::PI * (k * n) as f64 / N_FFT as f64;
                re += v * ph.cos();
                im += v * ph.sin();
            }
            re * re + im * im
        })
        .collect();
    let fb = spectral::mel_filterbank(cfg.n_mels, N_FFT, 16000.0, cfg.f_min, cfg.f_max);
    let logmel: Vec<f64> = fb
        .iter()
        .map(|f| {
            let e: f64 = f
                .weights
                .iter()
                .enumerate()
                .map(|(i, w)| *w as f64 * power[f.first + i])
                .sum();
            e.max(cfg.log_floor as f64).ln()
        })
        .collect();
    let dct = spectral::dct_matrix(cfg.n_coeffs, cfg.n_mels);
    for k in 0..cfg.n_coeffs {
        let c: f64 = (0..cfg.n_mels)
            .map(|i| dct[k * cfg.n_mels + i] as f64 * logmel[i])
            .sum();
        assert!(
            (got[k] as f64 - c).abs() < 1e-3 * (1.0 + c.abs()),
            "c{k}: {} vs {c}",
            got[k]
        );
    }
}

#[test]
fn a_tone_peaks_in_its_mel_band() {
    let mut m = Mfcc::new(MfccConfig::default()).unwrap();
    for f in [250.0f32, 1000.0, 4000.0] {
        let x: Vec<f32> = (0..400)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 16000.0).sin())
            .collect();
        m.buf.copy_from_slice(&x);
        m.static_frame();
        let best = (0..m.mel.len())
            .max_by(|&a, &b| m.mel[a].total_cmp(&m.mel[b]))
            .unwrap();
        let fl = &m.filters[best];
        let lo = fl.first as f32 * 16000.0 / N_FFT as f32;
        let hi = (fl.first + fl.weights.len()) as f32 * 16000.0 / N_FFT as f32;
        assert!(
            lo <= f && f <= hi,
            "{f} Hz peaks in filter {best} ({lo}..{hi} Hz)"
        );
    }
}

#[test]
fn silence_gives_finite_frames() {
    for cfg in all_configs() {
        let out = one_shot(&cfg, &vec![0.0; 3200]);
        assert!(!out.is_empty());
        assert!(out.iter().all(|v| v.is_finite()), "{cfg:?}");
    }
}

#[test]
fn non_finite_samples_are_rejected() {
    let mut m = Mfcc::new(MfccConfig::default()).unwrap();
    let mut x = signal(1000, 2);
    x[500] = f32::NAN;
    let err = m.push(&x, &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("sample 500") && err.contains("NaN"), "{err}");
    x[500] = f32::INFINITY;
    assert!(m.push(&x, &mut Vec::new()).is_err());
}

#[test]
fn invalid_settings_are_reported() {
    let bad = [
        MfccConfig {
            n_coeffs: 0,
            ..MfccConfig::default()
        },
        MfccConfig {
            n_coeffs: 41,
            ..MfccConfig::default()
        },
        MfccConfig {
            n_coeffs: 1,
            first: FirstCoeff::Drop,
            ..MfccConfig::default()
        },
        MfccConfig {
            f_max: 9000.0,
            ..MfccConfig::default()
        },
        MfccConfig {
            f_min: 500.0,
            f_max: 400.0,
            ..MfccConfig::default()
        },
        MfccConfig {
            pre_emphasis: 1.5,
            ..MfccConfig::default()
        },
        MfccConfig {
            norm: MfccNorm::Sliding,
            norm_window: 0,
            ..MfccConfig::default()
        },
        MfccConfig {
            n_mels: 128,
            f_max: 300.0,
            ..MfccConfig::default()
        },
    ];
    for c in bad {
        let e = Mfcc::new(c.clone()).err().expect("should fail").to_string();
        assert!(e.starts_with("MFCC settings:"), "{e}");
    }
}

#[test]
fn config_fills_missing_fields_with_defaults() {
    let c: MfccConfig = serde_json::from_str(r#"{"deltas": false, "norm": "sliding"}"#).unwrap();
    assert!(!c.deltas);
    assert_eq!(c.norm, MfccNorm::Sliding);
    assert_eq!(c.n_coeffs, MfccConfig::default().n_coeffs);
    let round: MfccConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(round, c);
    let f: FrontendConfig = serde_json::from_str(r#"{"kind": "mfcc"}"#).unwrap();
    assert_eq!(f, FrontendConfig::Mfcc(MfccConfig::default()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_block_splits_match_one_shot(
        n in 0usize..6000,
        seed in any::<u64>(),
        sizes in prop::collection::vec(1usize..700, 1..12),
        cfg_idx in 0usize..18,
    ) {
        let cfg = all_configs()[cfg_idx].clone();
        let x = signal(n, seed);
        prop_assert_eq!(in_blocks(&cfg, &x, &sizes), one_shot(&cfg, &x));
    }
}
