//! The JSON sidecar `models/export.py` writes beside every exported model.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result, SAMPLE_RATE};

/// Value of [`Sidecar::format`] in files this crate understands.
pub const SIDECAR_FORMAT: &str = "wordspot-wav2vec2";
/// Highest [`Sidecar::format_version`] this crate understands.
pub const SIDECAR_VERSION: u32 = 1;

/// What an exported wav2vec2-family ONNX model computes (its `FILE.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// Always [`SIDECAR_FORMAT`].
    pub format: String,
    /// Version of this layout.
    pub format_version: u32,
    /// Hugging Face model type (`wav2vec2`, `hubert`, `wavlm`).
    pub model_type: String,
    /// Checkpoint the model was exported from.
    pub source: String,
    /// Transformer layer output by a single-layer model (`None` for all-layers models).
    pub layer: Option<usize>,
    /// True when the output holds every layer: `[num_layers + 1, frames, dim]`.
    pub all_layers: bool,
    /// Transformer layers in the source checkpoint.
    pub num_layers: usize,
    /// Values per frame.
    pub dim: usize,
    /// Input sample rate in Hz (must be 16000).
    pub sample_rate: u32,
    /// Hop between frames, in samples.
    pub hop: usize,
    /// Receptive field of one frame of the conv feature encoder, in samples.
    pub receptive_field: usize,
    /// Frames per second (`sample_rate / hop`).
    pub frame_rate: f64,
    /// Whether the model expects each utterance scaled to zero mean, unit variance.
    pub normalize_waveform: bool,
    /// `none`, `dynamic-int8` or `dynamic-int8-per-channel`.
    pub quantization: String,
    /// Name of the waveform input (`[1, samples]`, f32).
    pub input_name: String,
    /// Name of the output.
    pub output_name: String,
}

impl Sidecar {
    /// Where the sidecar of `model` lives: the same path with a `.json` extension.
    pub fn path_for(model: &Path) -> PathBuf {
        model.with_extension("json")
    }

    /// Reads and validates the sidecar at `path`.
    pub fn load(path: &Path) -> Result<Sidecar> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::model(
                path,
                format!("cannot read the model's sidecar ({e}); models/export.py writes it beside the .onnx"),
            )
        })?;
        let s: Sidecar = serde_json::from_str(&text)
            .map_err(|e| Error::model(path, format!("malformed sidecar: {e}")))?;
        s.validate(path)?;
        Ok(s)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |msg: String| Err(Error::model(path, msg));
        if self.format != SIDECAR_FORMAT {
            return bad(format!(
                "sidecar format is `{}`, expected `{SIDECAR_FORMAT}`",
                self.format
            ));
        }
        if self.format_version > SIDECAR_VERSION {
            return bad(format!(
                "sidecar version {} is newer than this wordspot understands ({SIDECAR_VERSION})",
                self.format_version
            ));
        }
        if self.sample_rate != SAMPLE_RATE {
            return bad(format!(
                "model expects {} Hz input, wordspot feeds {SAMPLE_RATE} Hz",
                self.sample_rate
            ));
        }
        if self.dim == 0 || self.hop == 0 || self.receptive_field < self.hop {
            return bad(format!(
                "inconsistent geometry: dim {}, hop {}, receptive_field {}",
                self.dim, self.hop, self.receptive_field
            ));
        }
        match (self.all_layers, self.layer) {
            (true, Some(_)) => return bad("`all_layers` is true but `layer` is set".into()),
            (false, None) => return bad("`layer` is missing for a single-layer model".into()),
            (false, Some(l)) if l > self.num_layers => {
                return bad(format!(
                    "layer {l} is beyond the checkpoint's {} layers",
                    self.num_layers
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// Number of layers in the output: `num_layers + 1` for all-layers models, else 1.
    pub fn output_layers(&self) -> usize {
        if self.all_layers {
            self.num_layers + 1
        } else {
            1
        }
    }

    /// Frames the model produces for `n` input samples.
    pub fn frames_for(&self, n: usize) -> usize {
        if n < self.receptive_field {
            0
        } else {
            (n - self.receptive_field) / self.hop + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Sidecar {
        Sidecar {
            format: SIDECAR_FORMAT.into(),
            format_version: 1,
            model_type: "wav2vec2".into(),
            source: "x".into(),
            layer: Some(6),
            all_layers: false,
            num_layers: 12,
            dim: 768,
            sample_rate: 16000,
            hop: 320,
            receptive_field: 400,
            frame_rate: 50.0,
            normalize_waveform: true,
            quantization: "none".into(),
            input_name: "input_values".into(),
            output_name: "hidden_state".into(),
        }
    }

    #[test]
    fn frames_follow_the_conv_geometry() {
        let s = base();
        assert_eq!(s.frames_for(399), 0);
        assert_eq!(s.frames_for(400), 1);
        assert_eq!(s.frames_for(719), 1);
        assert_eq!(s.frames_for(720), 2);
        assert_eq!(s.frames_for(16000), 49);
    }

    #[test]
    fn validation_rejects_inconsistent_files() {
        let p = Path::new("m.json");
        assert!(base().validate(p).is_ok());
        let mut s = base();
        s.sample_rate = 8000;
        assert!(s.validate(p).unwrap_err().to_string().contains("m.json"));
        let mut s = base();
        s.layer = Some(13);
        assert!(s.validate(p).is_err());
        let mut s = base();
        s.all_layers = true;
        assert!(s.validate(p).is_err());
        let mut s = base();
        s.format = "other".into();
        assert!(s.validate(p).is_err());
    }
}
