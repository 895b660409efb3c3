//! Symmetric eigen-decomposition: Householder tridiagonalization followed by
//! the implicit QL algorithm (the EISPACK `tred2`/`tql2` pair, as in JAMA).
//!
//! The working matrix is stored transposed so that the hot loops walk
//! contiguous rows; `O(n³)` with small constants, fine for `n = 1024`.

use ndarray::{Array2, ArrayView2};

/// Eigenvalues (descending) and, when requested, the matching unit eigenvectors.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    /// Matrix order.
    pub n: usize,
    /// Eigenvalues, largest first.
    pub values: Vec<f64>,
    /// Row `k` (`n` values) is the unit eigenvector of `values[k]`; empty when
    /// only eigenvalues were asked for.
    pub vectors: Vec<f64>,
}

impl SymmetricEigen {
    /// Eigenvalues and eigenvectors of the symmetric `n × n` row-major matrix `a`.
    /// Returns `None` when `a` has the wrong size or a non-finite entry.
    pub fn new(a: &[f64], n: usize) -> Option<Self> {
        decompose(a, n, true)
    }

    /// Eigenvalues only (faster: no vectors are accumulated).
    pub fn values_only(a: &[f64], n: usize) -> Option<Self> {
        decompose(a, n, false)
    }

    /// Eigenvector `k` (`k`-th largest eigenvalue); panics when vectors were not computed.
    pub fn vector(&self, k: usize) -> &[f64] {
        &self.vectors[k * self.n..(k + 1) * self.n]
    }
}

/// The `k` largest eigenpairs of the symmetric `n × n` row-major matrix `a`
/// by subspace iteration with Rayleigh–Ritz (cheaper than [`SymmetricEigen::new`]
/// when `k ≪ n`); falls back to the full decomposition for small matrices.
/// Returns `None` on a size mismatch or a non-finite entry.
pub fn top_eigen(a: &[f64], n: usize, k: usize) -> Option<SymmetricEigen> {
    if a.len() != n * n || a.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let k = k.min(n);
    let p = (k + 8).min(n);
    if n <= 64 || 3 * p >= n {
        let mut full = SymmetricEigen::new(a, n)?;
        full.values.truncate(k);
        full.vectors.truncate(k * n);
        return Some(full);
    }
    let am = ArrayView2::from_shape((n, n), a).ok()?;
    // Deterministic pseudo-random start.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut q = Array2::from_shape_fn((n, p), |_| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    });
    orthonormalize(&mut q);
    let scale = am
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let mut prev = vec![f64::INFINITY; k];
    for _ in 0..500 {
        let z = am.dot(&q);
        let (values, _) = rayleigh_ritz(&q, &z)?;
        let done = values[..k]
            .iter()
            .zip(&prev)
            .all(|(v, o)| (v - o).abs() <= 1e-12 * scale);
        prev.copy_from_slice(&values[..k]);
        q = z;
        orthonormalize(&mut q);
        if done {
            break;
        }
    }
    let (values, w) = rayleigh_ritz(&q, &am.dot(&q))?;
    let ritz_vectors = q.dot(&w);
    let mut vectors = Vec::with_capacity(k * n);
    for c in 0..k {
        vectors.extend(ritz_vectors.column(c).iter().copied());
    }
    Some(SymmetricEigen {
        n,
        values: values[..k].to_vec(),
        vectors,
    })
}

/// Eigenpairs of `qᵀ z` (`z = A q`): Ritz values (descending) and the small
/// eigenvector matrix whose columns combine `q`'s columns into Ritz vectors.
fn rayleigh_ritz(q: &Array2<f64>, z: &Array2<f64>) -> Option<(Vec<f64>, Array2<f64>)> {
    let p = q.ncols();
    let t = q.t().dot(z);
    let sym: Vec<f64> = (0..p * p)
        .map(|ij| 0.5 * (t[[ij / p, ij % p]] + t[[ij % p, ij / p]]))
        .collect();
    let e = SymmetricEigen::new(&sym, p)?;
    let w = Array2::from_shape_fn((p, p), |(r, c)| e.vector(c)[r]);
    Some((e.values, w))
}

/// Modified Gram–Schmidt on the columns of `q` (twice, for stability).
fn orthonormalize(q: &mut Array2<f64>) {
    let p = q.ncols();
    for _ in 0..2 {
        for c in 0..p {
            for prev in 0..c {
                let dot = q.column(c).dot(&q.column(prev));
                let u = q.column(prev).to_owned();
                q.column_mut(c).scaled_add(-dot, &u);
            }
            let norm = q.column(c).dot(&q.column(c)).sqrt();
            if norm > 0.0 {
                q.column_mut(c).mapv_inplace(|v| v / norm);
            }
        }
    }
}

fn decompose(a: &[f64], n: usize, vectors: bool) -> Option<SymmetricEigen> {
    if a.len() != n * n || a.iter().any(|v| !v.is_finite()) {
        return None;
    }
    if n == 0 {
        return Some(SymmetricEigen {
            n,
            values: Vec::new(),
            vectors: Vec::new(),
        });
    }
    // `w` holds V transposed: V[r][c] lives at w[c * n + r]. `a` is symmetric, so
    // copying it as is gives the transposed start.
    let mut w = a.to_vec();
    let mut d = vec![0.0f64; n];
    let mut e = vec![0.0f64; n];
    tred2(&mut w, &mut d, &mut e, n, vectors);
    tql2(&mut w, &mut d, &mut e, n, vectors);

    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[j].total_cmp(&d[i]));
    let values = order.iter().map(|&i| d[i]).collect();
    let vecs = if vectors {
        let mut out = Vec::with_capacity(n * n);
        for &i in &order {
            // Column i of V = row i of w.
            out.extend_from_slice(&w[i * n..(i + 1) * n]);
        }
        out
    } else {
        Vec::new()
    };
    Some(SymmetricEigen {
        n,
        values,
        vectors: vecs,
    })
}

/// Householder reduction to tridiagonal form (diagonal in `d`, sub-diagonal in
/// `e[1..]`); accumulates the orthogonal transform into `w` when `vectors`.
#[allow(clippy::needless_range_loop)]
fn tred2(w: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize, vectors: bool) {
    // Accessor for V[r][c] in the transposed storage.
    let ix = |r: usize, c: usize| c * n + r;
    for j in 0..n {
        d[j] = w[ix(n - 1, j)];
    }
    for i in (1..n).rev() {
        let mut scale = 0.0;
        let mut h = 0.0;
        for k in 0..i {
            scale += d[k].abs();
        }
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = w[ix(i - 1, j)];
                w[ix(i, j)] = 0.0;
                w[ix(j, i)] = 0.0;
            }
        } else {
            for k in 0..i {
                d[k] /= scale;
                h += d[k] * d[k];
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for v in e.iter_mut().take(i) {
                *v = 0.0;
            }
            for j in 0..i {
                f = d[j];
                w[ix(j, i)] = f;
                g = e[j] + w[ix(j, j)] * f;
                // Column j of V below the diagonal = contiguous row j of w.
                let col = &w[j * n..j * n + i];
                for k in j + 1..i {
                    g += col[k] * d[k];
                    e[k] += col[k] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                let col = &mut w[j * n..j * n + i];
                for k in j..i {
                    col[k] -= f * e[k] + g * d[k];
                }
                d[j] = w[ix(i - 1, j)];
                w[ix(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }

    if !vectors {
        // The tridiagonal diagonal sits on V's diagonal after the reduction.
        for i in 0..n {
            d[i] = w[ix(i, i)];
        }
        e[0] = 0.0;
        return;
    }

    for i in 0..n - 1 {
        w[ix(n - 1, i)] = w[ix(i, i)];
        w[ix(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = w[ix(k, i + 1)] / h;
            }
            for j in 0..=i {
                let (lo, hi) = w.split_at_mut((i + 1) * n);
                let vi1 = &hi[..=i];
                let vj = &mut lo[j * n..j * n + i + 1];
                let mut g = 0.0;
                for k in 0..=i {
                    g += vi1[k] * vj[k];
                }
                for k in 0..=i {
                    vj[k] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            w[ix(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = w[ix(n - 1, j)];
        w[ix(n - 1, j)] = 0.0;
    }
    w[ix(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

/// Implicit QL iterations on the tridiagonal matrix; eigenvalues end in `d`,
/// eigenvectors (when `vectors`) in the rows of `w`.
fn tql2(w: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize, vectors: bool) {
    const MAX_ITER: usize = 60;
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0f64;
    let mut tst1 = 0.0f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            for _ in 0..MAX_ITER {
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for v in d.iter_mut().skip(l + 2) {
                    *v -= h;
                }
                f += h;

                p = d[m];
                let mut c = 1.0;
                let mut c2 = c;
                let mut c3 = c;
                let el1 = e[l + 1];
                let mut s = 0.0;
                let mut s2 = 0.0;
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    if vectors {
                        let (lo, hi) = w.split_at_mut((i + 1) * n);
                        let vi = &mut lo[i * n..];
                        let vi1 = &mut hi[..n];
                        for k in 0..n {
                            let t = vi1[k];
                            vi1[k] = s * vi[k] + c * t;
                            vi[k] = c * vi[k] - s * t;
                        }
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    fn random_symmetric(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in i..n {
                let v = lcg(&mut s);
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
        a
    }

    #[test]
    fn diagonal_matrix() {
        let a = [3.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 7.0];
        let e = SymmetricEigen::new(&a, 3).unwrap();
        assert_eq!(e.values.len(), 3);
        for (got, want) in e.values.iter().zip([7.0, 3.0, -1.0]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert!((e.vector(0)[2].abs() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn reconstructs_random_matrices() {
        for &n in &[1usize, 2, 3, 7, 40] {
            let a = random_symmetric(n, n as u64 + 1);
            let e = SymmetricEigen::new(&a, n).unwrap();
            // Orthonormal vectors.
            for p in 0..n {
                for q in 0..n {
                    let dot: f64 = e
                        .vector(p)
                        .iter()
                        .zip(e.vector(q))
                        .map(|(x, y)| x * y)
                        .sum();
                    let want = if p == q { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-10, "n={n} <v{p},v{q}>={dot}");
                }
            }
            // A v = λ v.
            for k in 0..n {
                let v = e.vector(k);
                for i in 0..n {
                    let av: f64 = (0..n).map(|j| a[i * n + j] * v[j]).sum();
                    assert!((av - e.values[k] * v[i]).abs() < 1e-9, "n={n} k={k}");
                }
            }
            // Descending order, and values-only agrees.
            assert!(e.values.windows(2).all(|w| w[0] >= w[1]));
            let vo = SymmetricEigen::values_only(&a, n).unwrap();
            for (x, y) in vo.values.iter().zip(&e.values) {
                assert!((x - y).abs() < 1e-9, "n={n}: {x} vs {y}");
            }
            // Trace is preserved.
            let tr: f64 = (0..n).map(|i| a[i * n + i]).sum();
            let sum: f64 = e.values.iter().sum();
            assert!((tr - sum).abs() < 1e-9);
        }
    }

    #[test]
    fn top_eigen_agrees_with_the_full_decomposition() {
        // A spectrum with a few dominant directions, as in rogue-dimension data.
        let n = 120;
        let b = random_symmetric(n, 3);
        let e0 = SymmetricEigen::new(&b, n).unwrap();
        let spectrum: Vec<f64> = (0..n).map(|i| 100.0 / (1.0 + i as f64).powi(2)).collect();
        let mut a = vec![0.0; n * n];
        for (k, &lam) in spectrum.iter().enumerate() {
            let v = e0.vector(k);
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] += lam * v[i] * v[j];
                }
            }
        }
        let full = SymmetricEigen::new(&a, n).unwrap();
        let top = top_eigen(&a, n, 4).unwrap();
        assert_eq!(top.values.len(), 4);
        for (k, &want) in spectrum.iter().enumerate().take(4) {
            assert!((top.values[k] - want).abs() < 1e-8, "{k}");
            assert!((full.values[k] - want).abs() < 1e-8, "{k}");
            let dot: f64 = top
                .vector(k)
                .iter()
                .zip(full.vector(k))
                .map(|(x, y)| x * y)
                .sum();
            assert!((dot.abs() - 1.0).abs() < 1e-8, "k={k} dot={dot}");
            let dot0: f64 = top
                .vector(k)
                .iter()
                .zip(e0.vector(k))
                .map(|(x, y)| x * y)
                .sum();
            assert!((dot0.abs() - 1.0).abs() < 1e-8, "k={k} dot0={dot0}");
        }
        // Small matrices take the full path.
        let small = top_eigen(&b[..], n, 100).unwrap();
        assert_eq!(small.values.len(), 100);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(SymmetricEigen::new(&[1.0, f64::NAN, f64::NAN, 1.0], 2).is_none());
        assert!(SymmetricEigen::new(&[1.0, 2.0], 2).is_none());
        assert!(SymmetricEigen::new(&[], 0).unwrap().values.is_empty());
    }

    #[test]
    fn zero_and_rank_one_matrices() {
        let n = 5;
        let z = vec![0.0; n * n];
        let e = SymmetricEigen::new(&z, n).unwrap();
        assert!(e.values.iter().all(|v| v.abs() < 1e-15));
        let u: Vec<f64> = (0..n).map(|i| (i + 1) as f64).collect();
        let norm2: f64 = u.iter().map(|x| x * x).sum();
        let a: Vec<f64> = (0..n * n).map(|k| u[k / n] * u[k % n]).collect();
        let e = SymmetricEigen::new(&a, n).unwrap();
        assert!((e.values[0] - norm2).abs() < 1e-9);
        assert!(e.values[1..].iter().all(|v| v.abs() < 1e-9));
        let dot: f64 = e.vector(0).iter().zip(&u).map(|(x, y)| x * y).sum();
        assert!((dot.abs() - norm2.sqrt()).abs() < 1e-9);
    }
}
