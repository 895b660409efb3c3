//! Chunk planning for streaming an encoder with left context and right look-ahead.
//!
//! Frames live on a global grid: frame `f` covers samples `[f * hop, f * hop + window)`.
//! Each inference window starts on a frame boundary, so the model's output row `j`
//! is global frame `window.start + j`. A window emits only the frames of its chunk;
//! the frames before it (context) and after it (look-ahead) are computed and thrown
//! away, so every emitted frame sees `context` frames of past and `lookahead`
//! frames of future audio (fewer only at the very start and end of the stream).

/// One inference window, in global frame indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First frame computed (the model input starts at `start * hop`).
    pub start: u64,
    /// One past the last frame computed.
    pub end: u64,
    /// First frame emitted.
    pub emit: u64,
    /// One past the last frame emitted.
    pub emit_end: u64,
}

impl Window {
    /// First input sample (global index).
    pub fn first_sample(&self, hop: usize) -> u64 {
        self.start * hop as u64
    }
    /// One past the last input sample (global index).
    pub fn end_sample(&self, hop: usize, window: usize) -> u64 {
        (self.end - 1) * hop as u64 + window as u64
    }
}

/// Decides which window to run next given how many samples have arrived.
#[derive(Debug, Clone)]
pub struct Chunker {
    hop: usize,
    window: usize,
    chunk: u64,
    context: u64,
    lookahead: u64,
    next: u64,
}

impl Chunker {
    /// A chunker emitting `chunk` frames per window (≥ 1), with `context` frames of
    /// left context and `lookahead` frames of right look-ahead.
    pub fn new(hop: usize, window: usize, chunk: usize, context: usize, lookahead: usize) -> Self {
        Chunker {
            hop,
            window,
            chunk: chunk.max(1) as u64,
            context: context as u64,
            lookahead: lookahead as u64,
            next: 0,
        }
    }

    /// Next frame to be emitted.
    pub fn next_frame(&self) -> u64 {
        self.next
    }

    /// First global sample any future window needs (samples before it can be dropped).
    pub fn keep_from(&self) -> u64 {
        self.next.saturating_sub(self.context) * self.hop as u64
    }

    /// Samples (global count) a full window for the next chunk needs.
    pub fn samples_needed(&self) -> u64 {
        (self.next + self.chunk + self.lookahead - 1) * self.hop as u64 + self.window as u64
    }

    /// Frames in a full window: context + chunk + look-ahead.
    pub fn window_frames(&self) -> u64 {
        self.context + self.chunk + self.lookahead
    }

    /// The next full window once `total` samples have arrived, if they suffice.
    pub fn next_full(&self, total: u64) -> Option<Window> {
        if total < self.samples_needed() {
            return None;
        }
        Some(Window {
            start: self.next.saturating_sub(self.context),
            end: self.next + self.chunk + self.lookahead,
            emit: self.next,
            emit_end: self.next + self.chunk,
        })
    }

    /// The final window at the end of a stream of `total` samples (`None` if no frame is left).
    pub fn last(&self, total: u64) -> Option<Window> {
        if total < self.window as u64 {
            return None;
        }
        let frames = (total - self.window as u64) / self.hop as u64 + 1;
        if frames <= self.next {
            return None;
        }
        Some(Window {
            start: self.next.saturating_sub(self.context),
            end: frames,
            emit: self.next,
            emit_end: frames,
        })
    }

    /// Marks a window's frames as emitted.
    pub fn advance(&mut self, w: &Window) {
        self.next = w.emit_end;
    }

    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `total` samples in blocks of `block` and lists every window run.
    fn plan(c: &mut Chunker, total: u64, block: u64) -> Vec<Window> {
        let mut got = Vec::new();
        let mut have = 0;
        while have < total {
            have = (have + block).min(total);
            while let Some(w) = c.next_full(have) {
                got.push(w);
                c.advance(&w);
            }
        }
        if let Some(w) = c.last(total) {
            got.push(w);
            c.advance(&w);
        }
        got
    }

    #[test]
    fn windows_tile_every_frame_exactly_once() {
        for &(total, block) in &[
            (16000u64, 1000u64),
            (99_999, 320),
            (400, 7),
            (5000, 100_000),
        ] {
            let mut c = Chunker::new(320, 400, 50, 25, 12);
            let ws = plan(&mut c, total, block);
            let frames = (total - 400) / 320 + 1;
            let mut next = 0;
            for w in &ws {
                assert_eq!(w.emit, next);
                assert!(w.start <= w.emit && w.emit < w.emit_end && w.emit_end <= w.end);
                assert!(w.end_sample(320, 400) <= total);
                assert!(w.emit - w.start <= 25);
                next = w.emit_end;
            }
            assert_eq!(next, frames, "total {total}");
        }
    }

    #[test]
    fn full_windows_have_context_and_lookahead() {
        let mut c = Chunker::new(320, 400, 50, 25, 12);
        let ws = plan(&mut c, 10 * 16000, 1600);
        for w in &ws[1..ws.len() - 1] {
            assert_eq!(w.emit - w.start, 25);
            assert_eq!(w.end - w.emit_end, 12);
        }
        // A window is only run once its look-ahead has arrived.
        assert_eq!(ws[0].end_sample(320, 400), (62 - 1) * 320 + 400);
    }

    #[test]
    fn too_short_streams_give_nothing() {
        let mut c = Chunker::new(320, 400, 50, 25, 12);
        assert!(plan(&mut c, 399, 100).is_empty());
    }
}
