"""A real array-API-aware library on clt tensors: scikit-learn with ``array_api_dispatch=True``
fits PCA and LinearDiscriminantAnalysis (and runs StandardScaler, euclidean_distances,
LabelEncoder, r2_score) on clt arrays, keeps the results on the OpenCL device, and matches its
own numpy results.

scikit-learn checks at dispatch time that SciPy's array API support is on, which needs
``SCIPY_ARRAY_API=1`` before SciPy is first imported, so the demo runs in a fresh interpreter.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("sklearn", minversion="1.5")   # PCA(svd_solver="covariance_eigh")
pytest.importorskip("array_api_compat")
pytest.importorskip("scipy", minversion="1.14")   # scikit-learn's array API floor

ROOT = Path(__file__).resolve().parent.parent

DEMO = textwrap.dedent("""
    import os
    os.environ["SCIPY_ARRAY_API"] = "1"
    import warnings

    import numpy as np
    import sklearn
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    import clt
    import clt.array_api as xp

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6)) @ rng.standard_normal((6, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    dev = clt.get_default_device()
    X = X.astype(np.float32)        # float32: the kernels the other array API tests build
    Xd = xp.asarray(X)
    host_path = []
    for solver in ("full", "covariance_eigh"):
        ref = PCA(n_components=3, svd_solver=solver).fit(X)
        with sklearn.config_context(array_api_dispatch=True), \\
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", clt.PerformanceWarning)
            pca = PCA(n_components=3, svd_solver=solver).fit(Xd)
            Z = pca.transform(Xd)
        host_path += [str(w.message).split()[0] for w in caught]
        assert isinstance(Z, clt.Tensor) and Z.device is dev
        assert isinstance(pca.components_, clt.Tensor)
        tol = 2e-4
        # components are defined up to sign; sklearn's svd_flip fixes it the same way
        np.testing.assert_allclose(Z.numpy(), ref.transform(X), rtol=tol, atol=tol)
        np.testing.assert_allclose(pca.explained_variance_.numpy(), ref.explained_variance_,
                                   rtol=tol)
    ref = LinearDiscriminantAnalysis().fit(X, y)
    with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", clt.PerformanceWarning)
        lda = LinearDiscriminantAnalysis().fit(Xd, xp.asarray(y))
        pred = lda.predict(Xd)
        proba = lda.predict_proba(Xd)
    assert isinstance(pred, clt.Tensor) and pred.device is dev
    assert (pred.numpy() == ref.predict(X)).all()
    np.testing.assert_allclose(proba.numpy(), ref.predict_proba(X), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(lda.coef_.numpy(), ref.coef_, rtol=1e-4, atol=1e-4)
    # preprocessing, pairwise metrics and scores dispatch too
    from sklearn.metrics import r2_score
    from sklearn.metrics.pairwise import euclidean_distances
    from sklearn.preprocessing import LabelEncoder, StandardScaler
    with sklearn.config_context(array_api_dispatch=True):
        Zs = StandardScaler().fit_transform(Xd)
        D = euclidean_distances(Xd[:20], Xd)
        labels = LabelEncoder().fit_transform(xp.asarray([3, 1, 3, 7]))
        r2 = r2_score(Xd[:, 0], Xd[:, 0] * 0.9)
    assert all(isinstance(t, clt.Tensor) for t in (Zs, D, labels))
    np.testing.assert_allclose(Zs.numpy(), StandardScaler().fit_transform(X), atol=1e-5)
    np.testing.assert_allclose(D.numpy(), euclidean_distances(X[:20], X), atol=1e-4)
    assert labels.tolist() == [1, 0, 1, 2]
    assert abs(float(r2) - r2_score(X[:, 0], X[:, 0] * 0.9)) < 1e-5
    print("OK", sorted(set(host_path)))
""")


def test_sklearn_pca_and_lda_on_clt_arrays():
    env = dict(os.environ, SCIPY_ARRAY_API="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", DEMO], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.startswith("OK"), proc.stdout
    # the decompositions take the documented host path, and say so
    assert "clt.array_api.linalg.svd" in proc.stdout
    assert "clt.array_api.linalg.eigh" in proc.stdout
