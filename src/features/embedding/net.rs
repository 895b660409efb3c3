//! The embedding network (`embedding_model.onnx`) computed natively and
//! incrementally.
//!
//! The model is a chain of convolutions that are *valid* (unpadded) in time,
//! each optionally followed by LeakyRelu, an elementwise maximum with a scalar
//! and a max-pool whose time stride equals its time size. So a row of any layer
//! depends only on a fixed range of absolute mel rows, given where its
//! window starts modulo the pooling stride below it (its *phase*). Overlapping
//! windows therefore share most of their rows: each layer keeps a ring of its
//! recent rows keyed by absolute row index, and a new mel row computes only the
//! rows of each layer it completes. At a hop of 8 mel frames (the total time
//! stride) every window shares every row with its neighbours; at hops 4, 2 and 1
//! there are `8 / hop` phases, each a hop-8 stream.
//!
//! Row `x` of a layer whose rows are `step` mel frames apart is row
//! `(x - s) / step` of the window starting at mel row `s` (with
//! `x ≡ s mod step`); the last layer's row `x` is the output of the window
//! starting at `x`.
//!
//! Rows are stored channel-last (`[width][channels]`), with the zero columns
//! the next convolution pads with, so a `1 × kw` convolution of a row is one
//! small matrix product whose left operand rows overlap in memory (no copy).
//! Every row is computed by the same code whatever the blocks the audio came
//! in, so streaming gives exactly the whole-file values.

use std::collections::HashMap;

use tract_onnx::pb;

/// Input rows (mel bands) of the network.
const IN_WIDTH: usize = super::MEL_BANDS;
/// Input rows of one window.
const IN_ROWS: usize = super::WINDOW_FRAMES;

/// One layer of the chain.
#[derive(Debug, Clone)]
enum Op {
    /// Convolution with time size `kh` (valid), mel size `kw`, and weights
    /// packed in blocks of [`NR`] output channels: `[cout / NR][kh][kw × cin][NR]`
    /// (zeros past `cout`).
    Conv {
        kw: usize,
        weights: Vec<f32>,
        bias: Vec<f32>,
        /// LeakyRelu slope (`None`: no activation).
        alpha: Option<f32>,
        /// Elementwise maximum with this value after the activation (`-inf`: none).
        floor: f32,
    },
    /// Max-pool `kh × kw`, stride equal to the size.
    Pool { kw: usize },
}

#[derive(Debug, Clone)]
struct Layer {
    op: Op,
    /// Time size: input rows per output row.
    kh: usize,
    cin: usize,
    cout: usize,
    win: usize,
    wout: usize,
    /// Padding columns this layer's convolution adds to its input (left, right).
    pad: (usize, usize),
    /// Mel frames between the input rows / the output rows.
    step_in: usize,
    step_out: usize,
}

/// The embedding network's weights and layer chain, read from the ONNX model.
#[derive(Debug)]
pub struct Net {
    layers: Vec<Layer>,
    /// MACs per window when computed from scratch (for the docs and tests).
    macs_per_window: u64,
    /// State after the 76 rows of ones the frontend starts with, all phases.
    primed: NetState,
}

/// Why a model cannot run natively (the caller falls back to tract).
pub type Unsupported = String;

fn attr<'a>(n: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

fn ints(n: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

fn tensor_f32(t: &pb::TensorProto) -> Result<(Vec<usize>, Vec<f32>), Unsupported> {
    if t.data_type != 1 {
        return Err(format!(
            "initializer {} is not float32 (type {})",
            t.name, t.data_type
        ));
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("initializer {} has dim {d}", t.name)))
        .collect::<Result<_, _>>()?;
    let n: usize = dims.iter().product();
    let data: Vec<f32> = if !t.raw_data.is_empty() {
        t.raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        t.float_data.clone()
    };
    if data.len() != n {
        return Err(format!(
            "initializer {} holds {} values for shape {dims:?}",
            t.name,
            data.len()
        ));
    }
    Ok((dims, data))
}

fn tensor_i64(t: &pb::TensorProto) -> Result<Vec<i64>, Unsupported> {
    if t.data_type != 7 {
        return Err(format!("initializer {} is not int64", t.name));
    }
    Ok(if !t.raw_data.is_empty() {
        t.raw_data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect()
    } else {
        t.int64_data.clone()
    })
}

/// The next node if it is an `op` taking `cur` as its first input (a node
/// off the chain is refused).
fn take_if<'g>(
    nodes: &mut std::iter::Peekable<std::slice::Iter<'g, pb::NodeProto>>,
    op: &str,
    cur: &str,
) -> Result<Option<&'g pb::NodeProto>, Unsupported> {
    match nodes.peek() {
        Some(n) if n.op_type == op => {
            if n.input.first().map(String::as_str) != Some(cur) || n.output.len() != 1 {
                return Err(format!("{} {} is not on the chain", n.op_type, n.name));
            }
            Ok(nodes.next())
        }
        _ => Ok(None),
    }
}

fn constant<'g>(
    inits: &HashMap<&str, &'g pb::TensorProto>,
    name: &str,
) -> Result<&'g pb::TensorProto, Unsupported> {
    inits
        .get(name)
        .copied()
        .ok_or_else(|| format!("{name} is not a constant"))
}

fn all_ones(v: &Option<Vec<i64>>) -> bool {
    v.as_ref().is_none_or(|v| v.iter().all(|&x| x == 1))
}

impl Net {
    /// Reads the layer chain from an `embedding_model.onnx` (`bytes`). Fails
    /// with the reason when the graph is not the expected chain of
    /// convolutions, activations and pools mapping `[B, 76, 32, 1]` to 96 values.
    pub fn from_onnx(bytes: &[u8]) -> Result<Net, Unsupported> {
        use tract_onnx::prelude::Framework;
        let model = tract_onnx::onnx()
            .proto_model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(|e| format!("not readable: {e}"))?;
        let g = model.graph.as_ref().ok_or("no graph")?;
        let inits: HashMap<&str, &pb::TensorProto> =
            g.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        let inputs: Vec<&str> = g
            .input
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| !inits.contains_key(n))
            .collect();
        if inputs.len() != 1 || g.output.len() != 1 {
            return Err("not one input and one output".into());
        }
        let mut cur = inputs[0].to_string();
        let mut nodes = g.node.iter().peekable();
        let mut next_if = |op: &str, cur: &str| take_if(&mut nodes, op, cur);
        let init = |name: &str| constant(&inits, name);

        // NHWC [B, 76, 32, 1] -> NCHW [B, 1, 76, 32]: the same memory.
        let r = next_if("Reshape", &cur)?.ok_or("does not start with a Reshape")?;
        let shape = tensor_i64(init(r.input.get(1).ok_or("Reshape without shape")?)?)?;
        if shape != [-1, 1, IN_ROWS as i64, IN_WIDTH as i64] {
            return Err(format!("input reshape to {shape:?}"));
        }
        cur = r.output[0].clone();

        let (mut h, mut w, mut c, mut step) = (IN_ROWS, IN_WIDTH, 1usize, 1usize);
        let mut layers = Vec::new();
        while let Some(n) = next_if("Conv", &cur)? {
            let (wd, wt) = tensor_f32(init(n.input.get(1).ok_or("Conv without weights")?)?)?;
            let [cout, cin, kh, kw] = wd[..] else {
                return Err(format!("Conv {} weights of shape {wd:?}", n.name));
            };
            if cin != c || kh == 0 || kw == 0 || kh > h {
                return Err(format!("Conv {} of shape {wd:?} on {c} channels", n.name));
            }
            let bias = match n.input.get(2) {
                Some(b) => {
                    let (bd, b) = tensor_f32(init(b)?)?;
                    if bd != [cout] {
                        return Err(format!("Conv {} bias of shape {bd:?}", n.name));
                    }
                    b
                }
                None => vec![0.0; cout],
            };
            let pads = ints(n, "pads").unwrap_or_else(|| vec![0; 4]);
            let auto = attr(n, "auto_pad").map(|a| a.s.as_slice());
            if !all_ones(&ints(n, "strides"))
                || !all_ones(&ints(n, "dilations"))
                || attr(n, "group").is_some_and(|a| a.i != 1)
                || !matches!(auto, None | Some(b"NOTSET"))
                || ints(n, "kernel_shape").is_some_and(|k| k != [kh as i64, kw as i64])
                || pads.len() != 4
                || pads[0] != 0
                || pads[2] != 0
                || pads[1] < 0
                || pads[3] < 0
            {
                return Err(format!("Conv {} has unsupported attributes", n.name));
            }
            let pad = (pads[1] as usize, pads[3] as usize);
            if w + pad.0 + pad.1 < kw {
                return Err(format!("Conv {} wider than its input", n.name));
            }
            let wout = w + pad.0 + pad.1 - kw + 1;
            cur = n.output[0].clone();
            let mut alpha = None;
            if let Some(a) = next_if("LeakyRelu", &cur)? {
                alpha = Some(attr(a, "alpha").map_or(0.01, |a| a.f));
                cur = a.output[0].clone();
            }
            let mut floor = f32::NEG_INFINITY;
            if let Some(m) = next_if("Max", &cur)? {
                let (_, v) = tensor_f32(init(m.input.get(1).ok_or("Max of one input")?)?)?;
                if m.input.len() != 2 || v.len() != 1 {
                    return Err(format!("Max {} is not with a scalar", m.name));
                }
                floor = v[0];
                cur = m.output[0].clone();
            }
            // [cout / NR][kh][kw × cin][NR] from [cout][cin][kh][kw].
            let k = kw * cin;
            let mut weights = vec![0.0; cout.div_ceil(NR) * kh * k * NR];
            for o in 0..cout {
                for i in 0..cin {
                    for t in 0..kh {
                        for x in 0..kw {
                            let j = x * cin + i;
                            weights[(((o / NR) * kh + t) * k + j) * NR + o % NR] =
                                wt[((o * cin + i) * kh + t) * kw + x];
                        }
                    }
                }
            }
            layers.push(Layer {
                op: Op::Conv {
                    kw,
                    weights,
                    bias,
                    alpha,
                    floor,
                },
                kh,
                cin,
                cout,
                win: w,
                wout,
                pad,
                step_in: step,
                step_out: step,
            });
            (h, w, c) = (h - kh + 1, wout, cout);
            if let Some(p) = next_if("MaxPool", &cur)? {
                let k = ints(p, "kernel_shape").unwrap_or_default();
                let [ph, pw] = k[..] else {
                    return Err(format!("MaxPool {} of kernel {k:?}", p.name));
                };
                if ph < 1
                    || pw < 1
                    || ints(p, "strides").is_none_or(|s| s != k)
                    || ints(p, "pads").is_some_and(|p| p.iter().any(|&x| x != 0))
                    || !all_ones(&ints(p, "dilations"))
                    || attr(p, "ceil_mode").is_some_and(|a| a.i != 0)
                    || attr(p, "storage_order").is_some_and(|a| a.i != 0)
                    || !matches!(
                        attr(p, "auto_pad").map(|a| a.s.as_slice()),
                        None | Some(b"NOTSET") | Some(b"VALID")
                    )
                {
                    return Err(format!("MaxPool {} has unsupported attributes", p.name));
                }
                let (ph, pw) = (ph as usize, pw as usize);
                if ph > h || pw > w {
                    return Err(format!("MaxPool {} larger than its input", p.name));
                }
                layers.push(Layer {
                    op: Op::Pool { kw: pw },
                    kh: ph,
                    cin: c,
                    cout: c,
                    win: w,
                    wout: w / pw,
                    pad: (0, 0),
                    step_in: step,
                    step_out: step * ph,
                });
                // Floor: rows and columns past the last whole pool are dropped.
                (h, w, step) = (h / ph, w / pw, step * ph);
                cur = p.output[0].clone();
            }
        }
        let r = next_if("Reshape", &cur)?.ok_or("does not end with Conv layers and a Reshape")?;
        cur = r.output[0].clone();
        if g.node.last().map(|n| n as *const _) != Some(r as *const _) || g.output[0].name != cur {
            return Err("more nodes after the final Reshape".into());
        }
        if layers.is_empty() || h != 1 || w * c != super::DIM {
            return Err(format!(
                "the layers give {h} × {w} × {c} per window, expected 1 × {}",
                super::DIM
            ));
        }
        let shape = tensor_i64(init(r.input.get(1).ok_or("Reshape without shape")?)?)?;
        if shape.iter().product::<i64>().unsigned_abs() as usize != super::DIM
            || shape.first() != Some(&-1)
        {
            return Err(format!("output reshape to {shape:?}"));
        }
        if w != 1 {
            // The output would be channel-major over the width; only 1 is supported.
            return Err(format!("output width {w}"));
        }
        let mut macs = 0u64;
        let mut hh = IN_ROWS;
        for l in &layers {
            hh = if let Op::Conv { kw, .. } = l.op {
                let ho = hh - l.kh + 1;
                macs += (ho * l.wout * l.cout * l.kh * kw * l.cin) as u64;
                ho
            } else {
                hh / l.kh
            };
        }
        let mut net = Net {
            layers,
            macs_per_window: macs,
            primed: NetState::empty(),
        };
        // The frontend's start: 76 rows of ones at rows -76..-1, first window
        // at row 5 - 76; all phases (hop 1), so any hop can start from it.
        let first = -(IN_ROWS as i64);
        let s0 = super::FIRST_FRAMES as i64 - IN_ROWS as i64;
        let mut st = NetState::new(&net, 1, first, s0);
        let ones = [1.0f32; IN_WIDTH];
        let mut out = Vec::new();
        for _ in 0..IN_ROWS {
            st.push_row(&net, &ones, &mut out);
        }
        if !out.is_empty() {
            return Err("output before the first window".into());
        }
        net.primed = st;
        Ok(net)
    }

    /// Multiply-accumulates of one window computed from scratch.
    pub fn macs_per_window(&self) -> u64 {
        self.macs_per_window
    }

    /// Multiply-accumulates per mel frame when computed incrementally at `hop`
    /// (each layer's rows of the phases the hop uses, once).
    pub fn macs_per_frame(&self, hop: usize) -> f64 {
        let n = self.layers.len();
        let mut macs = 0.0;
        for (i, l) in self.layers.iter().enumerate() {
            if let Op::Conv { kw, .. } = l.op {
                let g = if i + 1 == n {
                    hop
                } else {
                    gcd(hop, l.step_out)
                };
                macs += (l.wout * l.cout * l.kh * kw * l.cin) as f64 / g as f64;
            }
        }
        macs
    }

    /// The state at the start of the frontend's stream (76 rows of ones), for `hop`.
    pub fn start_state(&self, hop: usize) -> NetState {
        let mut s = self.primed.clone();
        s.set_hop(self, hop);
        s
    }

    /// Restores `state` to [`Net::start_state`] without allocating.
    pub fn reset_state(&self, state: &mut NetState, hop: usize) {
        state.clone_from(&self.primed);
        state.set_hop(self, hop);
    }

    /// Runs one window (76 × 32 values, row-major) from scratch; appends [`Net::dim`] values.
    pub fn run_window(&self, window: &[f32], out: &mut Vec<f32>) {
        let mut st = NetState::new(self, 8, 0, 0);
        for row in window.chunks_exact(IN_WIDTH) {
            st.push_row(self, row, out);
        }
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Recent rows of one layer's output (or of the input), keyed by absolute row index.
#[derive(Debug, Clone, Default)]
struct Ring {
    /// Floats per stored row (padded width × channels).
    row_len: usize,
    /// Offset of column 0 in a stored row (the consumer's left padding).
    offset: usize,
    /// Rows kept (a power of two).
    cap: usize,
    data: Vec<f32>,
}

impl Ring {
    fn slot(&self, x: i64) -> usize {
        (x.rem_euclid(self.cap as i64)) as usize * self.row_len
    }
    fn row(&self, x: i64) -> &[f32] {
        let a = self.slot(x);
        &self.data[a..a + self.row_len]
    }
}

/// The per-stream rows of every layer ([`Net`] holds the weights).
#[derive(Debug, Clone, Default)]
pub struct NetState {
    /// `rings[0]` holds input rows, `rings[i + 1]` layer `i`'s output rows
    /// (the last layer writes to the caller's output instead).
    rings: Vec<Ring>,
    /// Next row each layer computes.
    next: Vec<i64>,
    /// Rows between the rows each layer computes.
    every: Vec<i64>,
    /// The first window's start (the residue every layer's rows keep).
    s0: i64,
    /// Next input row index.
    next_in: i64,
}

impl NetState {
    fn empty() -> NetState {
        NetState::default()
    }

    /// A state whose first input row is `first` and first window starts at `s0`.
    pub fn new(net: &Net, hop: usize, first: i64, s0: i64) -> NetState {
        let n = net.layers.len();
        let mut rings = Vec::with_capacity(n);
        for i in 0..n {
            // Ring i feeds layer i: its rows are layer i's input.
            let l = &net.layers[i];
            let (pl, pr) = l.pad;
            let row_len = (l.win + pl + pr) * l.cin;
            // Layer i reads rows x .. x + step_in × (kh - 1) while its producer
            // may be up to one of its own rows (and one pass) ahead.
            let span = l.step_in * l.kh + 2 * l.step_out + 2;
            let cap = span.next_power_of_two();
            rings.push(Ring {
                row_len,
                offset: pl * l.cin,
                cap,
                data: vec![0.0; row_len * cap],
            });
        }
        let mut s = NetState {
            rings,
            next: vec![s0; n],
            every: vec![1; n],
            s0,
            next_in: first,
        };
        s.set_hop(net, hop);
        s
    }

    /// Sets which rows are computed (those of the phases `hop` uses), moving
    /// each layer's next row up to the first such row.
    fn set_hop(&mut self, net: &Net, hop: usize) {
        let n = net.layers.len();
        for (i, l) in net.layers.iter().enumerate() {
            let g = if i + 1 == n {
                hop
            } else {
                gcd(hop, l.step_out)
            } as i64;
            self.every[i] = g;
            let d = self.next[i] - self.s0;
            self.next[i] = self.s0 + d.div_euclid(g) * g + if d.rem_euclid(g) > 0 { g } else { 0 };
        }
    }

    /// Adds the next input row (32 values) and appends the output of every
    /// window it completes to `out`; returns their number.
    pub fn push_row(&mut self, net: &Net, row: &[f32], out: &mut Vec<f32>) -> usize {
        let x = self.next_in;
        self.next_in += 1;
        {
            let r = &mut self.rings[0];
            let a = r.slot(x) + r.offset;
            r.data[a..a + row.len()].copy_from_slice(row);
        }
        let n = net.layers.len();
        let mut produced = 0;
        let mut avail = self.next_in; // rows below this exist at the layer's input
        for i in 0..n {
            let l = &net.layers[i];
            let reach = (l.step_in * (l.kh - 1)) as i64;
            let every = self.every[i];
            let (inputs, rest) = self.rings.split_at_mut(i + 1);
            let input = &inputs[i];
            while self.next[i] + reach < avail {
                let x = self.next[i];
                if i + 1 == n {
                    let a = out.len();
                    out.resize(a + l.wout * l.cout, 0.0);
                    compute(l, input, x, &mut out[a..]);
                    produced += 1;
                } else {
                    let o = &mut rest[0];
                    let a = o.slot(x) + o.offset;
                    let len = l.wout * l.cout;
                    compute(l, input, x, &mut o.data[a..a + len]);
                }
                self.next[i] += every;
            }
            avail = self.next[i];
        }
        produced
    }
}

/// Output channels per register block of the convolution kernel.
const NR: usize = 8;
/// Most output columns per register block.
const MR: usize = 4;

/// Computes row `x` of layer `l` from its input ring into `out` (`wout × cout`).
fn compute(l: &Layer, input: &Ring, x: i64, out: &mut [f32]) {
    let step = l.step_in as i64;
    match &l.op {
        Op::Conv {
            kw,
            weights,
            bias,
            alpha,
            floor,
        } => {
            let mut rows: [&[f32]; 4] = [&[]; 4];
            if l.kh <= rows.len() {
                for (t, r) in rows.iter_mut().enumerate().take(l.kh) {
                    *r = input.row(x + t as i64 * step);
                }
                conv(l, *kw, &rows[..l.kh], weights, bias, out);
            } else {
                let rows: Vec<&[f32]> = (0..l.kh).map(|t| input.row(x + t as i64 * step)).collect();
                conv(l, *kw, &rows, weights, bias, out);
            }
            if let Some(alpha) = *alpha {
                for o in out.iter_mut() {
                    let v = if *o < 0.0 { *o * alpha } else { *o };
                    *o = v.max(*floor);
                }
            } else if *floor > f32::NEG_INFINITY {
                for o in out.iter_mut() {
                    *o = o.max(*floor);
                }
            }
        }
        Op::Pool { kw } => {
            let c = l.cin;
            for (w, o) in out.chunks_exact_mut(c).enumerate() {
                o.fill(f32::NEG_INFINITY);
                for t in 0..l.kh {
                    let row = input.row(x + t as i64 * step);
                    for j in 0..*kw {
                        let a = (w * kw + j) * c;
                        for (o, &v) in o.iter_mut().zip(&row[a..a + c]) {
                            *o = o.max(v);
                        }
                    }
                }
            }
        }
    }
}

/// One output row of a convolution: `out[w][o] = bias[o] + Σ_t Σ_j
/// rows[t][w × cin + j] × W[t][j][o]`, `j < kw × cin` (the rows are padded,
/// so column `w`'s operand is `kw × cin` consecutive values). Register
/// blocks of [`MR`] columns × [`NR`] channels; the order of the sums does not
/// depend on anything but the layer, so every row is computed the same way.
fn conv(l: &Layer, kw: usize, rows: &[&[f32]], weights: &[f32], bias: &[f32], out: &mut [f32]) {
    let (cin, cout, wout) = (l.cin, l.cout, l.wout);
    let k = kw * cin;
    let block = rows.len() * k * NR;
    for (cb, wb) in weights.chunks_exact(block).enumerate() {
        let mut w = 0;
        while w < wout {
            let m = (wout - w).min(MR);
            let mut acc = [[0f32; NR]; MR];
            match m {
                4 => tile::<4>(rows, w, cin, k, wb, &mut acc),
                3 => tile::<3>(rows, w, cin, k, wb, &mut acc),
                2 => tile::<2>(rows, w, cin, k, wb, &mut acc),
                _ => tile::<1>(rows, w, cin, k, wb, &mut acc),
            }
            let o0 = cb * NR;
            let n = NR.min(cout - o0);
            for (r, acc) in acc.iter().enumerate().take(m) {
                let o = &mut out[(w + r) * cout + o0..(w + r) * cout + o0 + n];
                for ((o, &a), &b) in o.iter_mut().zip(acc).zip(&bias[o0..o0 + n]) {
                    *o = a + b;
                }
            }
            w += m;
        }
    }
}

/// Accumulates columns `w .. w + M` of one channel block into `acc`.
#[inline(always)]
fn tile<const M: usize>(
    rows: &[&[f32]],
    w: usize,
    cin: usize,
    k: usize,
    wb: &[f32],
    acc: &mut [[f32; NR]; MR],
) {
    let mut s = [[0f32; NR]; M];
    for (row, wt) in rows.iter().zip(wb.chunks_exact(k * NR)) {
        let wt = &wt[..k * NR];
        let a: [&[f32]; M] = std::array::from_fn(|r| &row[(w + r) * cin..][..k]);
        for j in 0..k {
            let b: &[f32; NR] = wt[j * NR..j * NR + NR].try_into().expect("NR values");
            for r in 0..M {
                let x = a[r][j];
                for q in 0..NR {
                    s[r][q] += x * b[q];
                }
            }
        }
    }
    acc[..M].copy_from_slice(&s);
}
