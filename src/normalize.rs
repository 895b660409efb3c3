//! Rogue-dimension removal applied to feature frames before scoring
//! (placeholder: identity only until the normalizer work item lands).

use crate::features::Features;

/// A per-frame linear map applied identically to templates, streams and corpora.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalizer {
    dim: usize,
}

impl Normalizer {
    /// The identity map on `dim`-dimensional frames.
    pub fn identity(dim: usize) -> Self {
        Normalizer { dim }
    }
    /// Input dimension.
    pub fn in_dim(&self) -> usize {
        self.dim
    }
    /// Output dimension.
    pub fn out_dim(&self) -> usize {
        self.dim
    }
    /// True when this normalizer changes nothing.
    pub fn is_identity(&self) -> bool {
        true
    }
    /// Maps one frame into `out` (`out.len() == self.out_dim()`). No allocation.
    pub fn apply(&self, input: &[f32], out: &mut [f32]) {
        out.copy_from_slice(input);
    }
    /// Maps every frame of `f`.
    pub fn apply_features(&self, f: &Features) -> Features {
        f.clone()
    }
}

impl Normalizer {
    /// Builds the normalizer named by `spec` (`none`, `standardize`, `drop:K`,
    /// `pca:K`) from the statistics file `stats` fitted with the same frontend.
    pub fn from_spec(
        spec: &str,
        stats: Option<&std::path::Path>,
        frontend: &crate::features::FrontendConfig,
        dim: usize,
    ) -> crate::Result<Self> {
        let _ = (stats, frontend);
        match spec {
            "none" => Ok(Normalizer::identity(dim)),
            other => Err(crate::Error::invalid(format!(
                "normalizer '{other}' is not available yet"
            ))),
        }
    }
}
