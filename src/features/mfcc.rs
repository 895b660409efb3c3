//! MFCC frontend (placeholder: implemented by the MFCC work item).

use serde::{Deserialize, Serialize};

use super::{Frontend, FrontendConfig};
use crate::Result;

/// MFCC settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MfccConfig {
    /// Cepstral coefficients per frame.
    pub n_coeffs: usize,
    /// Append deltas and delta-deltas (3× the coefficients).
    pub deltas: bool,
}

impl Default for MfccConfig {
    fn default() -> Self {
        MfccConfig {
            n_coeffs: 13,
            deltas: true,
        }
    }
}

/// The MFCC frontend.
pub struct Mfcc {
    cfg: MfccConfig,
}

impl Mfcc {
    /// Builds an MFCC frontend.
    pub fn new(cfg: MfccConfig) -> Result<Self> {
        Ok(Mfcc { cfg })
    }
}

impl Frontend for Mfcc {
    fn dim(&self) -> usize {
        if self.cfg.deltas {
            3 * self.cfg.n_coeffs
        } else {
            self.cfg.n_coeffs
        }
    }
    fn hop(&self) -> usize {
        160
    }
    fn window(&self) -> usize {
        400
    }
    fn push(&mut self, _samples: &[f32], _out: &mut Vec<f32>) -> Result<usize> {
        Ok(0)
    }
    fn finish(&mut self, _out: &mut Vec<f32>) -> Result<usize> {
        Ok(0)
    }
    fn reset(&mut self) {}
    fn config(&self) -> FrontendConfig {
        FrontendConfig::Mfcc(self.cfg.clone())
    }
}
