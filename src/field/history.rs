//! The audio history ring clips are cut from.

/// The last `capacity` samples of a stream, in a ring allocated once.
#[derive(Debug, Clone)]
pub struct History {
    buf: Vec<f32>,
    total: u64,
}

impl History {
    /// A ring holding the last `capacity` samples (at least 1).
    pub fn new(capacity: usize) -> Self {
        History {
            buf: vec![0.0; capacity.max(1)],
            total: 0,
        }
    }

    /// Samples pushed since the start.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Absolute index of the oldest sample still held.
    pub fn oldest(&self) -> u64 {
        self.total.saturating_sub(self.buf.len() as u64)
    }

    /// Appends samples (allocation-free).
    pub fn push(&mut self, mut x: &[f32]) {
        let cap = self.buf.len();
        if x.len() > cap {
            self.total += (x.len() - cap) as u64;
            x = &x[x.len() - cap..];
        }
        let pos = (self.total % cap as u64) as usize;
        let first = x.len().min(cap - pos);
        self.buf[pos..pos + first].copy_from_slice(&x[..first]);
        self.buf[..x.len() - first].copy_from_slice(&x[first..]);
        self.total += x.len() as u64;
    }

    /// Appends samples `[start, end)` (absolute indices, clamped to what is
    /// held) to `out`; returns the absolute start actually copied.
    pub fn copy_range(&self, start: u64, end: u64, out: &mut Vec<f32>) -> u64 {
        let cap = self.buf.len() as u64;
        let start = start.max(self.oldest());
        let end = end.min(self.total);
        for i in start..end {
            out.push(self.buf[(i % cap) as usize]);
        }
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_wraps_and_copies() {
        let mut h = History::new(10);
        let x: Vec<f32> = (0..25).map(|i| i as f32).collect();
        for c in x.chunks(3) {
            h.push(c);
        }
        assert_eq!(h.total(), 25);
        assert_eq!(h.oldest(), 15);
        let mut out = Vec::new();
        assert_eq!(h.copy_range(12, 20, &mut out), 15);
        assert_eq!(out, (15..20).map(|i| i as f32).collect::<Vec<_>>());
        h.push(&x); // longer than the ring
        out.clear();
        h.copy_range(0, u64::MAX, &mut out);
        assert_eq!(out, (15..25).map(|i| i as f32).collect::<Vec<_>>());
    }
}
