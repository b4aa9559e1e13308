"""A Gaussian-process emulator of the virtual trials' summaries (issue 10, item 4).

Inputs: points of the unit cube of :data:`ketasim.evidence.space.FIT_PARAMETERS`. Outputs: every likelihood
item's simulated summary on its likelihood scale (logit proportion, log time, points). The outputs are
standardised and reduced to their leading principal components (Higdon et al. 2008, J Am Stat Assoc
103:570: emulation of high-dimensional simulator output); each component gets its own scikit-learn
``GaussianProcessRegressor`` with an anisotropic squared-exponential kernel (one length scale per input) plus
a white-noise term (the Monte-Carlo noise of a virtual trial of finite size). The prediction of an output is
the mean of the components mapped back, its variance the components' predictive variances mapped back plus
the variance the discarded components left on the training set.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

VARIANCE_KEPT = 0.99
MAX_COMPONENTS = 14
HYPER_POINTS = 300  # kernel hyperparameters are optimised on at most this many design points (then fixed)


@dataclass
class Emulator:
    """Fitted PCA + per-component GPs (see the module docstring)."""

    mean: np.ndarray
    scale: np.ndarray
    loadings: np.ndarray  # components x outputs
    gps: list
    residual_var: np.ndarray  # per output, transformed units
    fill: np.ndarray  # value used for a NaN output in training (per output)

    @classmethod
    def fit(cls, U: np.ndarray, Z: np.ndarray, *, seed: int = 0, progress=None) -> Emulator:
        """PCA of the standardised outputs, then per component: kernel hyperparameters by maximum marginal
        likelihood on a random subset of at most :data:`HYPER_POINTS` points, and the GP on every point with
        those hyperparameters fixed (the cost of the optimisation grows with the cube of the points)."""
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        Z = np.array(Z, dtype=float)
        fill = np.nanmean(Z, axis=0)
        fill = np.where(np.isfinite(fill), fill, 0.0)
        bad = ~np.isfinite(Z)
        Z[bad] = np.take(fill, np.nonzero(bad)[1])
        mean = Z.mean(axis=0)
        scale = Z.std(axis=0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        S = (Z - mean) / scale
        _, sv, vt = np.linalg.svd(S, full_matrices=False)
        share = np.cumsum(sv**2) / np.sum(sv**2)
        k = int(min(MAX_COMPONENTS, np.searchsorted(share, VARIANCE_KEPT) + 1))
        W = vt[:k]
        scores = S @ W.T
        resid = S - scores @ W
        residual_var = (resid**2).mean(axis=0) * scale**2
        d = U.shape[1]
        rng = np.random.default_rng(seed)
        sub = rng.choice(U.shape[0], min(HYPER_POINTS, U.shape[0]), replace=False)
        gps = []
        for c in range(k):
            kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(d, 0.5), (0.02, 100.0))
                      + WhiteKernel(1e-2, (1e-6, 1.0)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hyper = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed + c)
                hyper.fit(U[sub], scores[sub, c])
                gp = GaussianProcessRegressor(hyper.kernel_, normalize_y=True, optimizer=None)
                gp.fit(U, scores[:, c])
            gps.append(_FastGP(gp))
            if progress:
                progress(c + 1, k)
        return cls(mean, scale, W, gps, residual_var, fill)

    @property
    def n_components(self) -> int:
        return len(self.gps)

    def predict(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, variance) of every output at the points ``U`` (points x outputs)."""
        U = np.atleast_2d(U)
        mus, vars_ = [], []
        for gp in self.gps:
            m, v = gp.predict(U)
            mus.append(m)
            vars_.append(v)
        M = np.array(mus).T  # points x components
        V = np.array(vars_).T
        mean = self.mean + (M @ self.loadings) * self.scale
        var = (V @ (self.loadings**2)) * self.scale**2 + self.residual_var
        return mean, var


class _FastGP:
    """Prediction of a fitted scikit-learn GP (``ConstantKernel * RBF + WhiteKernel``) without its per-call
    overhead: mean and the variance of the latent function (the white noise, the Monte-Carlo noise of a
    virtual trial, excluded)."""

    def __init__(self, gp):
        k = gp.kernel_
        self.amplitude = float(k.k1.k1.constant_value)
        self.inv_ls = 1.0 / np.asarray(k.k1.k2.length_scale, dtype=float)
        self.X = np.asarray(gp.X_train_, dtype=float) * self.inv_ls
        self.x2 = np.sum(self.X**2, axis=1)
        self.alpha = np.asarray(gp.alpha_, dtype=float).ravel()
        self.L = np.asarray(gp.L_, dtype=float)
        self.y_mean = float(np.atleast_1d(gp._y_train_mean)[0])
        self.y_std = float(np.atleast_1d(gp._y_train_std)[0])
        self.kernel = k

    def predict(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.linalg import solve_triangular

        Xs = np.atleast_2d(U) * self.inv_ls
        d2 = np.maximum(np.sum(Xs**2, axis=1)[:, None] + self.x2[None, :] - 2.0 * Xs @ self.X.T, 0.0)
        Ks = self.amplitude * np.exp(-0.5 * d2)
        mean = Ks @ self.alpha
        v = solve_triangular(self.L, Ks.T, lower=True, check_finite=False)
        var = np.maximum(self.amplitude - np.sum(v * v, axis=0), 1e-12)
        return self.y_mean + self.y_std * mean, var * self.y_std**2
