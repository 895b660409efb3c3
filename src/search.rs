//! Corpus search: rank recordings by their best match to an audio query.
//!
//! Corpus features are computed once per (file, size, mtime, frontend
//! settings) and kept in a [`FeatureCache`], so later queries over the same
//! corpus only run the DTW. Files are processed in parallel (rayon).
//!
//! [`search`] ranks recordings for one query. [`spot`] runs many words, each
//! with one or more examples ([`crate::query`]), in one pass over the corpus
//! (each file's features are computed or loaded once for all words) and keeps
//! several hits per recording: the best `N`, or all under a distance.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::Array2;
use rayon::prelude::*;
use serde::Serialize;

use crate::audio::{self, Source as _};
use crate::detector::Fusion;
use crate::detector::ScoreNorm;
use crate::dtw::batch::select_non_overlapping;
use crate::dtw::{BlockSubsequence, Metric};
use crate::features::{extract, frame_end, frame_start, Features, Frontend, FrontendConfig};
use crate::normalize::Normalizer;
use crate::query::{fuse_normalised, Query};
use crate::{Error, Result};

/// File extensions treated as audio when walking folders.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "ogg", "oga", "mp3"];

/// One ranked match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// 1-based rank.
    pub rank: usize,
    /// The recording (written as text; a name that is not valid UTF-8 is
    /// written lossily, with U+FFFD, rather than failing the output).
    #[serde(serialize_with = "lossy_path")]
    pub file: PathBuf,
    /// Match start, seconds.
    pub start: f64,
    /// Match end, seconds.
    pub end: f64,
    /// Path-length-normalized DTW distance.
    pub distance: f32,
}

/// Serializes a path as a string, lossily when it is not valid UTF-8.
fn lossy_path<S: serde::Serializer>(p: &Path, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// Audio files named by `inputs` (files as given; folders walked recursively,
/// keeping known audio extensions, sorted). Symbolic links are followed, but
/// each folder and each file is visited once (by its real path), so a link
/// back up the tree (`sub/up -> ..`, `x -> .`) neither loops nor lists a file
/// twice (files named in `inputs` are kept as given). Unreadable folders and missing paths are returned as errors beside
/// the files that could be listed.
pub fn collect_files(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<Error>) {
    collect_matching(inputs, &is_audio)
}

/// [`collect_files`] keeping the files for which `keep` holds (e.g. other
/// extensions than audio): the same walk, links followed, each real path once.
pub fn collect_matching(
    inputs: &[PathBuf],
    keep: &dyn Fn(&Path) -> bool,
) -> (Vec<PathBuf>, Vec<Error>) {
    let mut walk = Walk {
        keep,
        files: Vec::new(),
        errors: Vec::new(),
        seen: Default::default(),
    };
    for p in inputs {
        if p.is_dir() {
            walk.dir(p);
        } else if p.exists() {
            // Named files are kept as given (twice if named twice); a walk
            // does not list them again.
            walk.first_visit(p);
            walk.files.push(p.clone());
        } else {
            walk.errors.push(Error::io(
                p,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
    }
    (walk.files, walk.errors)
}

/// A folder walk that remembers the real paths it has seen.
struct Walk<'a> {
    keep: &'a dyn Fn(&Path) -> bool,
    files: Vec<PathBuf>,
    errors: Vec<Error>,
    seen: std::collections::HashSet<PathBuf>,
}

impl Walk<'_> {
    /// Whether `p` (by its real path) is new; an unresolvable path counts as new.
    fn first_visit(&mut self, p: &Path) -> bool {
        let real = fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        self.seen.insert(real)
    }

    fn file(&mut self, p: PathBuf) {
        if self.first_visit(&p) {
            self.files.push(p);
        }
    }

    fn dir(&mut self, dir: &Path) {
        if !self.first_visit(dir) {
            return;
        }
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => return self.errors.push(Error::io(dir, e)),
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                self.dir(&p);
            } else if (self.keep)(&p) {
                self.file(p);
            }
        }
    }
}

/// True when the extension is a known audio extension.
pub fn is_audio(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// On-disk cache of corpus features.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    dir: PathBuf,
}

const CACHE_MAGIC: &[u8; 8] = b"WSFEAT01";

impl FeatureCache {
    /// A cache rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FeatureCache { dir: dir.into() }
    }

    /// The default location: `$WORDSPOT_CACHE`, else `$XDG_CACHE_HOME/wordspot`,
    /// else `~/.cache/wordspot`.
    pub fn default_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("WORDSPOT_CACHE") {
            return d.into();
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return PathBuf::from(d).join("wordspot");
        }
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache").join("wordspot"))
            .unwrap_or_else(|| std::env::temp_dir().join("wordspot-cache"))
    }

    /// Cache key of `file` for `frontend`: path, size, mtime and settings.
    pub fn key(file: &Path, frontend: &FrontendConfig) -> Result<String> {
        let meta = fs::metadata(file).map_err(|e| Error::io(file, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let abs = fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        let mut h = blake3::Hasher::new();
        h.update(abs.to_string_lossy().as_bytes());
        h.update(&meta.len().to_le_bytes());
        h.update(&mtime.to_le_bytes());
        h.update(
            serde_json::to_string(frontend)
                .expect("config serializes")
                .as_bytes(),
        );
        #[cfg(feature = "embedding")]
        if let FrontendConfig::Embedding(c) = frontend {
            // The features change with the models, built in or not.
            match &c.models {
                None => {
                    h.update(crate::features::embedding::BUILTIN_MEL_MODEL);
                    h.update(crate::features::embedding::BUILTIN_EMBEDDING_MODEL);
                }
                Some(f) => {
                    for p in [&f.melspectrogram, &f.embedding] {
                        if let Ok(m) = fs::metadata(p) {
                            h.update(&m.len().to_le_bytes());
                            if let Ok(t) = m.modified() {
                                h.update(format!("{t:?}").as_bytes());
                            }
                        }
                    }
                }
            }
        }
        if let FrontendConfig::Wav2vec2(c) = frontend {
            // A re-exported model at the same path must not reuse old features.
            if let Ok(m) = fs::metadata(&c.model) {
                h.update(&m.len().to_le_bytes());
                if let Ok(t) = m.modified() {
                    h.update(format!("{t:?}").as_bytes());
                }
            }
        }
        Ok(h.finalize().to_hex()[..32].to_string())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.feat"))
    }

    /// Cached features for `key`, if present and intact.
    pub fn get(&self, key: &str) -> Option<Features> {
        let mut f = fs::File::open(self.path(key)).ok()?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).ok()?;
        decode_features(&bytes)
    }

    /// Stores features under `key` (atomically; failures are ignored: the
    /// cache is an optimisation).
    pub fn put(&self, key: &str, f: &Features) {
        let path = self.path(key);
        let Some(dir) = path.parent() else { return };
        if fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let ok = fs::File::create(&tmp)
            .and_then(|mut w| w.write_all(&encode_features(f)))
            .is_ok();
        if ok {
            let _ = fs::rename(&tmp, &path);
        } else {
            let _ = fs::remove_file(&tmp);
        }
    }
}

fn encode_features(f: &Features) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + f.data.len() * 4);
    out.extend_from_slice(CACHE_MAGIC);
    for v in [f.data.nrows(), f.data.ncols(), f.hop, f.window] {
        out.extend_from_slice(&(v as u64).to_le_bytes());
    }
    for x in f.data.iter() {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

fn decode_features(b: &[u8]) -> Option<Features> {
    if b.len() < 40 || &b[..8] != CACHE_MAGIC {
        return None;
    }
    let u = |i: usize| u64::from_le_bytes(b[8 + 8 * i..16 + 8 * i].try_into().unwrap()) as usize;
    let (rows, cols, hop, window) = (u(0), u(1), u(2), u(3));
    let body = &b[40..];
    if rows.checked_mul(cols)?.checked_mul(4)? != body.len() || hop == 0 {
        return None;
    }
    let data: Vec<f32> = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    Some(Features {
        data: Array2::from_shape_vec((rows, cols), data).ok()?,
        hop,
        window,
    })
}

/// Computes (or fetches from the cache) the features of one file.
pub fn file_features(
    path: &Path,
    frontend: &mut dyn Frontend,
    cache: Option<&FeatureCache>,
) -> Result<Features> {
    let cfg = frontend.config();
    let key = match cache {
        Some(_) => Some(FeatureCache::key(path, &cfg)?),
        None => None,
    };
    if let (Some(c), Some(k)) = (cache, &key) {
        if let Some(f) = c.get(k) {
            return Ok(f);
        }
    }
    let samples = audio::read_file(path)?;
    let f = extract(frontend, &samples, path)?;
    if let (Some(c), Some(k)) = (cache, &key) {
        c.put(k, &f);
    }
    Ok(f)
}

/// Feature frames handed on at a time by [`stream_file_features`].
pub const FEATURE_BLOCK: usize = 256;

/// The most a streamed pass over one file held at once (for tests that the
/// memory of the corpus path does not grow with the length of a recording).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Decoded 16 kHz samples held at once.
    pub samples: usize,
    /// Feature frames held at once (raw and normalized blocks).
    pub frames: usize,
}

impl Footprint {
    fn note(&mut self, samples: usize, frames: usize) {
        self.samples = self.samples.max(samples);
        self.frames = self.frames.max(frames);
    }
}

/// What [`stream_file_features`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed {
    /// Frames handed to the sink.
    pub frames: usize,
    /// Hop in samples at 16 kHz.
    pub hop: usize,
    /// Window in samples at 16 kHz.
    pub window: usize,
    /// Samples decoded (0 when the features came from the cache).
    pub samples: u64,
    /// The most held at once.
    pub footprint: Footprint,
}

/// The normalized features of `path` in blocks of at most [`FEATURE_BLOCK`]
/// frames, in order, without holding the file's samples or features: read
/// from the cache in blocks when present, else decoded block by block through
/// `frontend` (whose frames do not depend on the block sizes) and written to
/// the cache as they come. The frames are those of [`file_features`] followed
/// by [`Normalizer::apply_features`]. A file that gives no frame is the error
/// [`extract`] gives.
pub fn stream_file_features(
    path: &Path,
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    cache: Option<&FeatureCache>,
    sink: &mut dyn FnMut(ndarray::ArrayView2<f32>) -> Result<()>,
) -> Result<Streamed> {
    let key = match cache {
        Some(_) => Some(FeatureCache::key(path, &frontend.config())?),
        None => None,
    };
    let mut fp = Footprint::default();
    let mut normed: Vec<f32> = Vec::new();
    // Normalizes the raw frames in `raw` and hands them on.
    let mut emit = |raw: &[f32], dim: usize, fp: &mut Footprint| -> Result<usize> {
        let n = raw.len() / dim;
        if n == 0 {
            return Ok(0);
        }
        let block = ndarray::ArrayView2::from_shape((n, dim), raw)
            .map_err(|e| Error::invalid(e.to_string()))?;
        if normalizer.is_identity() {
            fp.note(0, n);
            sink(block)?;
        } else {
            let od = normalizer.out_dim();
            normed.clear();
            normed.resize(n * od, 0.0);
            for (i, o) in raw.chunks_exact(dim).zip(normed.chunks_exact_mut(od)) {
                normalizer.apply(i, o);
            }
            fp.note(0, 2 * n);
            let v = ndarray::ArrayView2::from_shape((n, od), &normed[..])
                .map_err(|e| Error::invalid(e.to_string()))?;
            sink(v)?;
        }
        Ok(n)
    };
    if let (Some(c), Some(k)) = (cache, &key) {
        if let Some(mut r) = c.reader(k) {
            let mut buf = Vec::new();
            let mut frames = 0;
            while let Some(n) = r.next_block(FEATURE_BLOCK, &mut buf) {
                if n == 0 {
                    return Ok(Streamed {
                        frames,
                        hop: r.hop,
                        window: r.window,
                        samples: 0,
                        footprint: fp,
                    });
                }
                frames += emit(&buf, r.cols, &mut fp)?;
            }
            // A cache file that fails part way is only trusted if nothing was
            // handed on yet; else the error would silently change results.
            if frames > 0 {
                return Err(Error::audio(
                    path,
                    "feature cache entry unreadable part way",
                ));
            }
        }
    }
    let mut writer = match (cache, &key) {
        (Some(c), Some(k)) => c.writer(k, frontend.dim(), frontend.hop(), frontend.window()),
        _ => None,
    };
    let mut src = audio::FileSource::open(path)?;
    frontend.reset();
    let dim = frontend.dim();
    let mut samples = Vec::with_capacity(audio::BLOCK);
    let mut raw: Vec<f32> = Vec::new();
    let mut seen = 0u64;
    let mut frames = 0usize;
    let mut flush = |raw: &mut Vec<f32>,
                     all: bool,
                     writer: &mut Option<CacheWriter>,
                     fp: &mut Footprint|
     -> Result<usize> {
        let whole = raw.len() / dim;
        let take = if all {
            whole
        } else {
            whole / FEATURE_BLOCK * FEATURE_BLOCK
        };
        let mut done = 0;
        for chunk in raw[..take * dim].chunks(FEATURE_BLOCK * dim) {
            if let Some(w) = writer.as_mut() {
                if !w.append(chunk) {
                    *writer = None;
                }
            }
            done += emit(chunk, dim, fp)?;
        }
        raw.drain(..take * dim);
        Ok(done)
    };
    loop {
        samples.clear();
        let n = src.read(&mut samples)?;
        if n == 0 {
            break;
        }
        seen += n as u64;
        frontend.push(&samples, &mut raw)?;
        fp.note(samples.len(), raw.len() / dim.max(1));
        frames += flush(&mut raw, false, &mut writer, &mut fp)?;
    }
    frontend.finish(&mut raw)?;
    fp.note(0, raw.len() / dim.max(1));
    frames += flush(&mut raw, true, &mut writer, &mut fp)?;
    if frames == 0 {
        return Err(Error::audio(
            path,
            format!(
                "too short: {:.3} s gives no feature frame (need at least {:.3} s)",
                seen as f64 / crate::SAMPLE_RATE as f64,
                frontend.window() as f64 / crate::SAMPLE_RATE as f64
            ),
        ));
    }
    if let Some(w) = writer {
        w.commit(frames);
    }
    Ok(Streamed {
        frames,
        hop: frontend.hop(),
        window: frontend.window(),
        samples: seen,
        footprint: fp,
    })
}

/// A cache entry read in blocks.
struct CacheReader {
    file: std::io::BufReader<fs::File>,
    rows_left: usize,
    cols: usize,
    hop: usize,
    window: usize,
}

impl CacheReader {
    /// Reads up to `max` frames into `buf` (replacing it); `Some(0)` at the
    /// end, `None` on a read error.
    fn next_block(&mut self, max: usize, buf: &mut Vec<f32>) -> Option<usize> {
        let n = self.rows_left.min(max);
        buf.clear();
        if n == 0 {
            return Some(0);
        }
        let mut bytes = vec![0u8; n * self.cols * 4];
        self.file.read_exact(&mut bytes).ok()?;
        buf.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))),
        );
        self.rows_left -= n;
        Some(n)
    }
}

/// A cache entry being written as frames come (committed by rename). Its
/// temporary file is removed when it is dropped uncommitted (a write error,
/// or a decode error part way through the recording).
struct CacheWriter {
    tmp: PathBuf,
    path: PathBuf,
    file: std::io::BufWriter<fs::File>,
    header: [u64; 4],
}

impl Drop for CacheWriter {
    fn drop(&mut self) {
        // After a commit the temporary name no longer exists.
        let _ = fs::remove_file(&self.tmp);
    }
}

impl CacheWriter {
    fn append(&mut self, frames: &[f32]) -> bool {
        frames
            .iter()
            .all(|x| self.file.write_all(&x.to_le_bytes()).is_ok())
    }

    fn commit(mut self, rows: usize) {
        use std::io::{Seek, SeekFrom};
        self.header[0] = rows as u64;
        let ok = self.file.flush().is_ok() && {
            let f = self.file.get_mut();
            f.seek(SeekFrom::Start(8)).is_ok()
                && self
                    .header
                    .iter()
                    .all(|v| f.write_all(&v.to_le_bytes()).is_ok())
        };
        if ok {
            let _ = fs::rename(&self.tmp, &self.path);
        }
    }
}

impl FeatureCache {
    fn reader(&self, key: &str) -> Option<CacheReader> {
        let path = self.path(key);
        let len = fs::metadata(&path).ok()?.len();
        let mut file = std::io::BufReader::new(fs::File::open(&path).ok()?);
        let mut head = [0u8; 40];
        file.read_exact(&mut head).ok()?;
        if &head[..8] != CACHE_MAGIC {
            return None;
        }
        let u = |i: usize| {
            u64::from_le_bytes(head[8 + 8 * i..16 + 8 * i].try_into().expect("8 bytes")) as usize
        };
        let (rows, cols, hop, window) = (u(0), u(1), u(2), u(3));
        let body = rows.checked_mul(cols)?.checked_mul(4)?;
        if len < 40 || body as u64 != len - 40 || hop == 0 || cols == 0 {
            return None;
        }
        Some(CacheReader {
            file,
            rows_left: rows,
            cols,
            hop,
            window,
        })
    }

    fn writer(&self, key: &str, cols: usize, hop: usize, window: usize) -> Option<CacheWriter> {
        let path = self.path(key);
        fs::create_dir_all(path.parent()?).ok()?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::io::BufWriter::new(fs::File::create(&tmp).ok()?);
        let header = [0, cols as u64, hop as u64, window as u64];
        let ok = file.write_all(CACHE_MAGIC).is_ok()
            && header
                .iter()
                .all(|v| file.write_all(&v.to_le_bytes()).is_ok());
        if !ok {
            let _ = fs::remove_file(&tmp);
            return None;
        }
        Some(CacheWriter {
            tmp,
            path,
            file,
            header,
        })
    }
}

/// Search settings.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Frame distance.
    pub metric: Metric,
    /// Non-overlapping matches to report per file.
    pub per_file: usize,
    /// Feature cache (None: always recompute).
    pub cache: Option<FeatureCache>,
}

/// Outcome of a search: ranked hits and the files that could not be searched.
#[derive(Debug)]
pub struct SearchResult {
    /// Hits, best first, ranks 1..n.
    pub hits: Vec<Hit>,
    /// Files skipped and why.
    pub skipped: Vec<Error>,
}

/// Ranks `files` by their best match to `query` (normalized features).
/// `progress` is called once per finished file (from worker threads).
pub fn search(
    query: &Features,
    files: &[PathBuf],
    frontend: &FrontendConfig,
    normalizer: &Normalizer,
    opts: &SearchOptions,
    progress: &(dyn Fn() + Sync),
) -> Result<SearchResult> {
    if query.is_empty() {
        return Err(Error::invalid("the query has no frames"));
    }
    let (mut hits, skipped) = per_file_pooled(files, frontend, progress, |path, fe| {
        search_one(query, path, fe, normalizer, opts)
    });
    hits.sort_by(|a, b| {
        a.distance
            .total_cmp(&b.distance)
            .then_with(|| a.file.cmp(&b.file))
    });
    for (i, h) in hits.iter_mut().enumerate() {
        h.rank = i + 1;
    }
    Ok(SearchResult { hits, skipped })
}

/// Runs `one` on every file in parallel with a small pool of frontends built
/// from `frontend` (models can be expensive to load), ticking `progress` per
/// file; returns the concatenated results and the errors of files that failed.
fn per_file_pooled<T: Send>(
    files: &[PathBuf],
    frontend: &FrontendConfig,
    progress: &(dyn Fn() + Sync),
    one: impl Fn(&Path, &mut dyn Frontend) -> Result<Vec<T>> + Sync,
) -> (Vec<T>, Vec<Error>) {
    let pool: Mutex<Vec<Box<dyn Frontend>>> = Mutex::new(Vec::new());
    let results: Vec<Result<Vec<T>>> = files
        .par_iter()
        .map(|path| {
            let fe = pool.lock().expect("pool").pop();
            let mut fe = match fe {
                Some(f) => f,
                None => frontend.build()?,
            };
            let r = one(path, &mut *fe);
            pool.lock().expect("pool").push(fe);
            progress();
            r
        })
        .collect();
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for r in results {
        match r {
            Ok(h) => out.extend(h),
            Err(e) => skipped.push(e),
        }
    }
    (out, skipped)
}

fn search_one(
    query: &Features,
    path: &Path,
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    opts: &SearchOptions,
) -> Result<Vec<Hit>> {
    let mut dtw = BlockSubsequence::new(query.data.view(), opts.metric);
    let mut curve = Vec::new();
    let f = stream_file_features(
        path,
        frontend,
        normalizer,
        opts.cache.as_ref(),
        &mut |block| {
            check_dim(path, block.ncols(), query.dim())?;
            dtw.push(block, &mut curve);
            Ok(())
        },
    )?;
    let ms = select_non_overlapping(&curve, opts.per_file.max(1));
    if ms.is_empty() {
        return Err(Error::audio(
            path,
            format!(
                "shorter than half the query ({:.2} s vs {:.2} s): no match possible",
                frame_end(f.frames.saturating_sub(1), f.hop, f.window),
                query.frame_end(query.len() - 1)
            ),
        ));
    }
    Ok(ms
        .into_iter()
        .map(|m| Hit {
            rank: 0,
            file: path.to_path_buf(),
            start: frame_start(m.start, f.hop),
            end: frame_end(m.end, f.hop, f.window),
            distance: m.distance,
        })
        .collect())
}

/// The error of features of `dim` values matched against a query of `want`.
fn check_dim(path: &Path, dim: usize, want: usize) -> Result<()> {
    if dim != want {
        return Err(Error::invalid(format!(
            "{}: {dim}-dimensional features, the query has {want}",
            path.display(),
        )));
    }
    Ok(())
}

/// One hit of a word in a recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordHit {
    /// 1-based rank among all hits of this word (best first).
    pub rank: usize,
    /// The recording.
    #[serde(serialize_with = "lossy_path")]
    pub file: PathBuf,
    /// Match start, seconds.
    pub start: f64,
    /// Match end, seconds.
    pub end: f64,
    /// Fused path-length-normalized DTW distance.
    pub distance: f32,
    /// The word.
    pub word: String,
    /// 1-based rank among this word's hits in this recording.
    pub file_rank: usize,
}

/// Settings of [`spot`].
#[derive(Debug, Clone)]
pub struct SpotOptions {
    /// Frame distance.
    pub metric: Metric,
    /// How the examples of a word are fused.
    pub fusion: Fusion,
    /// At most this many hits per word and recording (`None`: no limit).
    pub per_file: Option<usize>,
    /// Keep only hits at or under this distance (`None`: no limit).
    pub max_distance: Option<f32>,
    /// Feature cache (None: always recompute).
    pub cache: Option<FeatureCache>,
}

/// Outcome of [`spot`].
#[derive(Debug)]
pub struct SpotResult {
    /// Hits grouped by word (in query order), each group best first.
    pub hits: Vec<WordHit>,
    /// Files that could not be searched and why.
    pub skipped: Vec<Error>,
    /// Files searched.
    pub searched: usize,
}

/// Searches `files` for every query in one pass: each file's features are
/// computed (or read from the cache) once, then every example of every word
/// is matched and the examples of a word fused ([`crate::query::fuse_curves`]). Per word
/// and file, hits are the lowest-distance matches that do not overlap in
/// time, at most `per_file` and at most `max_distance`. `progress` is called
/// once per finished file (from worker threads).
pub fn spot(
    queries: &[Query],
    files: &[PathBuf],
    frontend: &FrontendConfig,
    normalizer: &Normalizer,
    opts: &SpotOptions,
    progress: &(dyn Fn() + Sync),
) -> Result<SpotResult> {
    spot_normalised(queries, &[], files, frontend, normalizer, opts, progress)
}

/// [`spot`] with each example's distances standardised before fusion:
/// `norms[w][e]` for example `e` of query `w` (see
/// [`crate::query::fuse_normalised`]; [`crate::query::cohort_norms`] fits
/// them on the built-in cohort). Empty `norms`: raw distances, as [`spot`].
pub fn spot_normalised(
    queries: &[Query],
    norms: &[Vec<ScoreNorm>],
    files: &[PathBuf],
    frontend: &FrontendConfig,
    normalizer: &Normalizer,
    opts: &SpotOptions,
    progress: &(dyn Fn() + Sync),
) -> Result<SpotResult> {
    if !norms.is_empty()
        && (norms.len() != queries.len()
            || norms
                .iter()
                .zip(queries)
                .any(|(n, q)| n.len() != q.examples.len()))
    {
        return Err(Error::invalid(
            "one score normalisation per example of every query expected",
        ));
    }
    if queries.is_empty() {
        return Err(Error::invalid("no query to search for"));
    }
    for q in queries {
        if q.examples.is_empty() || q.examples.iter().any(Features::is_empty) {
            return Err(Error::invalid(format!(
                "the query '{}' has an example without frames",
                q.word
            )));
        }
    }
    if opts.per_file == Some(0) {
        return Err(Error::invalid(
            "per-file hit limit 0: nothing would be kept",
        ));
    }
    let (mut hits, skipped) = per_file_pooled(files, frontend, progress, |path, fe| {
        spot_one(queries, norms, path, fe, normalizer, opts)
    });
    let order = |w: &str| queries.iter().position(|q| q.word == w).unwrap_or(0);
    hits.sort_by(|a, b| {
        order(&a.word)
            .cmp(&order(&b.word))
            .then(a.distance.total_cmp(&b.distance))
            .then_with(|| a.file.cmp(&b.file))
            .then(a.start.total_cmp(&b.start))
    });
    let mut rank = 0;
    for i in 0..hits.len() {
        rank = if i > 0 && hits[i - 1].word == hits[i].word {
            rank + 1
        } else {
            1
        };
        hits[i].rank = rank;
    }
    Ok(SpotResult {
        hits,
        skipped,
        searched: files.len(),
    })
}

fn spot_one(
    queries: &[Query],
    norms: &[Vec<ScoreNorm>],
    path: &Path,
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    opts: &SpotOptions,
) -> Result<Vec<WordHit>> {
    let dim = queries[0].examples[0].dim();
    // One block matcher per example of every word. Each block's example
    // curves are fused at once (fusion is frame by frame), so only one fused
    // curve per word (one value per frame) outlives a block of features.
    let mut dtws: Vec<Vec<BlockSubsequence>> = queries
        .iter()
        .map(|q| {
            q.examples
                .iter()
                .map(|e| BlockSubsequence::new(e.data.view(), opts.metric))
                .collect()
        })
        .collect();
    let most = queries.iter().map(|q| q.examples.len()).max().unwrap_or(0);
    let mut block_curves: Vec<Vec<(f32, usize)>> = vec![Vec::new(); most];
    let mut block_fused = Vec::new();
    let mut fused: Vec<Vec<(f32, usize)>> = vec![Vec::new(); queries.len()];
    let f = stream_file_features(
        path,
        frontend,
        normalizer,
        opts.cache.as_ref(),
        &mut |block| {
            check_dim(path, block.ncols(), dim)?;
            for (w, (ds, word)) in dtws.iter_mut().zip(fused.iter_mut()).enumerate() {
                let cs = &mut block_curves[..ds.len()];
                for (d, c) in ds.iter_mut().zip(cs.iter_mut()) {
                    c.clear();
                    d.push(block, c);
                }
                let n = norms.get(w).map_or(&[][..], Vec::as_slice);
                fuse_normalised(cs, n, opts.fusion, &mut block_fused);
                word.extend_from_slice(&block_fused);
            }
            Ok(())
        },
    )?;
    let mut out = Vec::new();
    let mut any = false;
    for (q, fused) in queries.iter().zip(&fused) {
        any |= fused.iter().any(|c| c.0.is_finite());
        let times =
            |start: usize, end: usize| (frame_start(start, f.hop), frame_end(end, f.hop, f.window));
        let chosen = select_hits(fused, &times, opts.per_file, opts.max_distance);
        out.extend(
            chosen
                .into_iter()
                .enumerate()
                .map(|(i, (start, end, distance))| WordHit {
                    rank: 0,
                    file: path.to_path_buf(),
                    start,
                    end,
                    distance,
                    word: q.word.clone(),
                    file_rank: i + 1,
                }),
        );
    }
    if !any {
        let shortest = queries
            .iter()
            .flat_map(|q| &q.examples)
            .map(|e| e.frame_end(e.len() - 1))
            .fold(f64::INFINITY, f64::min);
        return Err(Error::audio(
            path,
            format!(
                "shorter than half the query (every example; {:.2} s vs {:.2} s): no match possible",
                frame_end(f.frames.saturating_sub(1), f.hop, f.window),
                shortest
            ),
        ));
    }
    Ok(out)
}

/// Greedy selection over a per-end-frame curve: the lowest distances first,
/// each kept when its time span `times(start, end)` does not overlap one
/// already kept (touching is allowed), until `limit` are kept or the
/// distance exceeds `max_distance`. Returns `(start s, end s, distance)`,
/// best first.
pub fn select_hits(
    curve: &[(f32, usize)],
    times: &dyn Fn(usize, usize) -> (f64, f64),
    limit: Option<usize>,
    max_distance: Option<f32>,
) -> Vec<(f64, f64, f32)> {
    let max_d = max_distance.unwrap_or(f32::INFINITY);
    let mut ends: Vec<usize> = (0..curve.len())
        .filter(|&j| curve[j].0.is_finite() && curve[j].0 <= max_d)
        .collect();
    ends.sort_by(|&a, &b| curve[a].0.total_cmp(&curve[b].0).then(a.cmp(&b)));
    let limit = limit.unwrap_or(usize::MAX);
    // Kept spans keyed by start time (in microseconds, for an ordered map).
    let mut kept: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    let key = |t: f64| (t * 1e6).round() as i64;
    for j in ends {
        if out.len() >= limit {
            break;
        }
        let (distance, start) = curve[j];
        let (s, e) = times(start, j);
        // The kept span starting last before e, and the one before s, are the
        // only ones that can overlap [s, e) (kept spans are disjoint).
        let overlaps = kept
            .range(..key(e))
            .next_back()
            .is_some_and(|(&ks, &ke)| ke > s && (ks as f64) < e * 1e6);
        if !overlaps {
            kept.insert(key(s), e);
            out.push((s, e, distance));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_do_not_overlap_in_time_and_respect_limits() {
        // Frames of 0.125 s hop and 0.375 s window: matches [s, e] in frames.
        let times = |s: usize, e: usize| (s as f64 * 0.125, e as f64 * 0.125 + 0.375);
        let mut curve = vec![(f32::INFINITY, 0); 40];
        curve[5] = (0.1, 2); // 0.25-1.0
        curve[6] = (0.15, 3); // 0.375-1.125: overlaps the first
        curve[8] = (0.3, 8); // 1.0-1.375: touches the first
        curve[20] = (0.5, 15); // 1.875-2.875
        curve[30] = (0.9, 25); // 3.125-4.125
        let all = select_hits(&curve, &times, None, None);
        let spans: Vec<(f64, f64)> = all.iter().map(|h| (h.0, h.1)).collect();
        assert_eq!(spans.len(), 4, "{spans:?}");
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                assert!(a.1 <= b.0 + 1e-9 || b.1 <= a.0 + 1e-9, "{a:?} {b:?}");
            }
        }
        assert!(all.windows(2).all(|w| w[0].2 <= w[1].2));
        assert_eq!(select_hits(&curve, &times, Some(2), None).len(), 2);
        let under = select_hits(&curve, &times, None, Some(0.5));
        assert_eq!(
            under.iter().map(|h| h.2).collect::<Vec<_>>(),
            vec![0.1, 0.3, 0.5]
        );
        assert!(select_hits(&curve, &times, None, Some(0.05)).is_empty());
    }

    #[test]
    fn cache_roundtrip_and_corruption() {
        let f = Features {
            data: Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f32),
            hop: 160,
            window: 400,
        };
        let b = encode_features(&f);
        assert_eq!(decode_features(&b).unwrap(), f);
        assert!(decode_features(&b[..b.len() - 1]).is_none());
        assert!(decode_features(b"garbage").is_none());
    }

    #[test]
    fn cache_written_in_blocks_is_the_whole_entry() {
        let d = tempfile::tempdir().unwrap();
        let c = FeatureCache::new(d.path());
        let f = Features {
            data: Array2::from_shape_fn((5, 3), |(i, j)| (i * 3 + j) as f32 - 2.5),
            hop: 160,
            window: 400,
        };
        let mut w = c.writer("abcdef", 3, 160, 400).unwrap();
        let flat: Vec<f32> = f.data.iter().copied().collect();
        assert!(w.append(&flat[..6]) && w.append(&flat[6..]));
        w.commit(5);
        assert_eq!(c.get("abcdef").unwrap(), f);
        let mut r = c.reader("abcdef").unwrap();
        let mut buf = Vec::new();
        assert_eq!(r.next_block(4, &mut buf), Some(4));
        assert_eq!(&buf[..], &flat[..12]);
        assert_eq!(r.next_block(4, &mut buf), Some(1));
        assert_eq!(r.next_block(4, &mut buf), Some(0));
        // A cut entry is not trusted.
        let p = c.path("abcdef");
        let b = fs::read(&p).unwrap();
        fs::write(&p, &b[..b.len() - 4]).unwrap();
        assert!(c.reader("abcdef").is_none() && c.get("abcdef").is_none());
    }

    #[test]
    fn collects_audio_recursively_and_reports_missing() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a/b")).unwrap();
        for f in ["x.wav", "a/y.FLAC", "a/b/z.mp3", "a/notes.txt"] {
            fs::write(d.path().join(f), b"").unwrap();
        }
        let (files, errs) = collect_files(&[d.path().to_path_buf(), d.path().join("missing.wav")]);
        assert_eq!(files.len(), 3);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().contains("missing.wav"));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_walked_once() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("sub")).unwrap();
        fs::write(d.path().join("a.wav"), b"").unwrap();
        fs::write(d.path().join("sub/b.wav"), b"").unwrap();
        std::os::unix::fs::symlink(".", d.path().join("x")).unwrap();
        std::os::unix::fs::symlink(".", d.path().join("y")).unwrap();
        std::os::unix::fs::symlink("..", d.path().join("sub/up")).unwrap();
        std::os::unix::fs::symlink("a.wav", d.path().join("c.wav")).unwrap();
        let (files, errs) = collect_files(&[d.path().to_path_buf(), d.path().join("sub")]);
        assert!(errs.is_empty(), "{errs:?}");
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(d.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.wav", "sub/b.wav"]);
    }
}
