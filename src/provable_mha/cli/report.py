"""What ``provable-mha learn`` and ``demo`` print: a short summary in words, the detailed report, JSON.

The summary reads the certificate's fields (``certified``, ``vacuous``, ``failure_rate_bound``,
``n_distinct_holdout``, ``param_radius``) and the sample size against the information limit
(:func:`provable_mha.learner.information_limit`); the JSON payload and its keys are documented
in ``docs/cli.md`` (``JSON_KEYS``, ``SUMMARY_KEYS`` here are that list, and a test compares them).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["outcome", "pac_sentence", "summary_fields", "format_summary", "detailed_report",
           "json_payload", "JSON_KEYS", "SUMMARY_KEYS", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
JSON_KEYS = ("schema_version", "summary", "cell", "rank", "metrics", "phases", "rounds", "certificate",
             "seconds", "saved")
SUMMARY_KEYS = ("outcome", "learned", "certified", "vacuous", "statement", "n_train", "n_holdout",
                "information_limit", "min_examples", "n_train_over_information_limit")


def outcome(cert) -> str:
    """``"certified"``, ``"vacuous"`` or ``"not certified"``."""
    if cert.certified:
        return "certified"
    return "vacuous" if cert.vacuous else "not certified"


def pac_sentence(cert) -> str:
    """The certificate's PAC statement in one sentence (the full one is ``cert.statement``)."""
    if cert.certified:
        text = (f"With probability at least {1 - cert.delta:g} over the held-out draw, a fresh input "
                f"has max residual above {cert.epsilon:.2g} with probability at most "
                f"{cert.failure_rate_bound:.3g} (all {cert.n_distinct_holdout} distinct unseen held-out "
                f"inputs fit within it)")
        if cert.param_radius is not None:
            text += (f", and every layer that fits the training data in the trust region is within "
                     f"{cert.param_radius:.2g} of the learned parameters")
        return text + "."
    reason = cert.statement.split(" [under:", 1)[0]
    reason = reason.split(":", 1)[1].strip() if ":" in reason else reason
    if cert.vacuous:
        return f"The held-out check proves nothing here: {reason}."
    return f"The held-out check failed: {reason}."


def summary_fields(res, m: int, d: int, k: int) -> dict:
    """The ``summary`` object of ``--json`` (keys :data:`SUMMARY_KEYS`)."""
    from ..learner import information_limit, min_examples

    limit = information_limit(m, d, k)
    c = res.certificate
    return {"outcome": outcome(c), "learned": True, "certified": bool(c.certified),
            "vacuous": bool(c.vacuous), "statement": pac_sentence(c), "n_train": res.n_train,
            "n_holdout": res.n_holdout, "information_limit": limit,
            "min_examples": min_examples(m, d, k),
            "n_train_over_information_limit": res.n_train / limit if math.isfinite(limit) else 0.0}


def format_summary(res, m: int, d: int, k: int, total_seconds: float) -> str:
    """Four labelled lines: result, statement, sample size, time per phase."""
    s = summary_fields(res, m, d, k)
    verdict = {"certified": "learned and CERTIFIED",
               "vacuous": "learned, but the certificate is VACUOUS (not certified)",
               "not certified": "learned, NOT certified"}[s["outcome"]]
    limit = s["information_limit"]
    if math.isfinite(limit):
        size = (f"{res.n_train} training examples = {s['n_train_over_information_limit']:.1f}x the "
                f"information limit n* = {limit:.3g} (learn refuses below 2md/k = {s['min_examples']}); "
                f"{res.n_holdout} held out")
    else:
        size = (f"{res.n_train} training examples; with k = 1 attention is constant and Theta is not "
                f"identified (information limit infinite); {res.n_holdout} held out")
    times = ", ".join(f"{p.name} {p.seconds:.3g} s" for p in res.phases)
    return "\n".join([
        f"result:     {verdict}",
        f"statement:  {s['statement']}",
        f"examples:   {size}",
        f"time:       {times}; learning {res.seconds:.3g} s, {total_seconds:.3g} s with planting, "
        f"sampling and testing",
    ])


def _head_table(trial) -> str:
    import provable_mha as pm

    hm = pm.match_heads(trial.planted, trial.result.layer)
    lines = [f"  {'head':>4s} {'matched':>7s} {'|Θ|_F':>8s} {'rel.err Θ':>10s} {'|W|_F':>8s} "
             f"{'rel.err W':>10s}"]
    for i in range(trial.planted.m):
        lines.append(f"  {i:>4d} {int(hm.perm[i]):>7d} "
                     f"{np.linalg.norm(trial.planted.thetas[i]):8.3f} {hm.theta_errors[i]:10.2e} "
                     f"{np.linalg.norm(trial.planted.ws[i]):8.3f} {hm.w_errors[i]:10.2e}")
    return "\n".join(lines)


def detailed_report(trial) -> str:
    """Phases, errors, head matching and the full certificate statement."""
    res, mt = trial.result, trial.metrics
    lines = [res.summary(), "  errors (relative, ||F̂(X) - Y||_F / ||Y||_F):",
             f"    train    {mt['train_error']:.3e}   ({res.n_train} examples)",
             f"    held-out {mt['holdout_error']:.3e}   ({res.n_holdout} examples)",
             f"    test     {mt['test_error']:.3e}   ({mt['n_test']} fresh noiseless examples; "
             f"max residual {mt['test_max_residual']:.2e}, fraction above eps "
             f"{mt['test_exceed_rate']:.3f})",
             f"  heads matched to the planted layer (max relative parameter error "
             f"{mt['head_error']:.2e}):", _head_table(trial),
             f"  certified: {'yes' if res.certificate.certified else 'no'}"]
    return "\n".join(lines)


def json_payload(trial, rank: int | None, seconds: float, saved: str | None) -> dict:
    """The ``--json`` object (keys :data:`JSON_KEYS`, documented in ``docs/cli.md``)."""
    from ..io import jsonable

    res, cell = trial.result, trial.cell
    return jsonable({
        "schema_version": SCHEMA_VERSION,
        "summary": summary_fields(res, cell.m, cell.d, cell.k),
        "cell": dict(cell.__dict__), "rank": rank, "metrics": trial.metrics,
        "phases": [{"name": p.name, "seconds": p.seconds, "status": p.status,
                    "solver": p.solver, "sizes": p.sizes} for p in res.phases],
        "rounds": res.rounds, "certificate": res.certificate.to_dict(), "seconds": seconds,
        "saved": saved,
    })
