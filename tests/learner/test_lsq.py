"""The one Levenberg–Marquardt core: convergence, stall detection, dense vs matrix-free steps."""

import time

import numpy as np

from provable_mha.learner.lsq import DenseJacobian, DenseNormal, MatrixFree, levenberg_marquardt

ROSEN = (lambda x: np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]]),
         lambda x: np.array([[-20 * x[0], 10.0], [-1.0, 0.0]]))


def test_solves_rosenbrock():
    fun, jac = ROSEN
    res = levenberg_marquardt(fun, lambda x, r: DenseJacobian(jac(x), r), np.array([-1.2, 1.0]))
    assert res.converged and np.allclose(res.x, [1, 1], atol=1e-10)


def test_reports_stalls_at_a_nonzero_minimum():
    fun = lambda x: np.array([x[0] - 1, x[0] + 1, 0.01 * x[1] - 1e-3 * x[1] ** 3])
    jac = lambda x: np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.01 - 3e-3 * x[1] ** 2]])
    res = levenberg_marquardt(fun, lambda x, r: DenseJacobian(jac(x), r), np.array([3.0, 0.5]), stall_window=5)
    assert not res.converged and res.cost > 0.9


def test_matrix_free_step_equals_dense_step():
    rng = np.random.default_rng(0)
    J, r = rng.standard_normal((40, 12)), rng.standard_normal(40)
    dense = DenseNormal(J.T @ J, J.T @ r)
    free = MatrixFree(lambda v: J @ v, lambda u: J.T @ u, J.shape, r, (J ** 2).sum(0), rtol=1e-14)
    np.testing.assert_allclose(free.gradient, dense.gradient, rtol=1e-12)
    for lam in (1e-6, 1e-2, 10.0):
        np.testing.assert_allclose(free.step(lam), dense.step(lam), rtol=1e-8, atol=1e-10)


def test_retraction_keeps_iterates_on_the_sphere():
    target = np.array([3.0, 4.0, 0.0]) / 5.0
    fun = lambda x: x - target
    res = levenberg_marquardt(fun, lambda x, r: DenseJacobian(np.eye(3), r), np.array([0.0, 0.0, 1.0]),
                              retract=lambda x, s: (x + s) / np.linalg.norm(x + s), ftol=1e-30)
    assert np.isclose(np.linalg.norm(res.x), 1.0) and np.allclose(res.x, target, atol=1e-8)


def test_deadline_stops_the_loop():
    fun, jac = ROSEN
    res = levenberg_marquardt(fun, lambda x, r: DenseJacobian(jac(x), r), np.array([-1.2, 1.0]),
                              deadline=time.perf_counter() - 1.0)
    assert res.reason == "deadline" and res.iterations == 0


def test_ridged_problem_reaches_the_tikhonov_solution_with_either_linear_algebra():
    """LM on [Ax - b; c x] converges to (A^T A + c^2 I)^{-1} A^T b, dense and matrix-free alike."""
    from provable_mha.learner.lsq import ridged

    rng = np.random.default_rng(3)
    A, b, c = rng.standard_normal((30, 8)), rng.standard_normal(30), 0.7
    exact = np.linalg.solve(A.T @ A + c * c * np.eye(8), A.T @ b)
    dense = lambda x, r: DenseJacobian(A, r)  # noqa: E731
    free = lambda x, r: MatrixFree(lambda v: A @ v, lambda u: A.T @ u, A.shape, r, (A ** 2).sum(0), rtol=1e-14)  # noqa: E731
    for linearize in (dense, free):
        res = levenberg_marquardt(*ridged(lambda x: A @ x - b, linearize, c), np.zeros(8), gtol=1e-12)
        np.testing.assert_allclose(res.x, exact, rtol=1e-8, atol=1e-10)
        assert len(res.r) == 38 and np.isclose(res.cost, 0.5 * (np.sum((A @ exact - b) ** 2) + c * c * exact @ exact))
