"""Queueing approximations for a replica under Poisson arrivals (latency at a percentile p).

Model and why:
  * Batch slots (concurrent sequences) form an M/G/c system with many servers. Its occupancy is close to the
    M/G/infinity one, Poisson with mean a = lambda x (time in system), so slots are sized by square-root staffing
    (Halfin-Whitt): c = a + z_p sqrt(a) makes the p-th percentile of occupancy fit, and it is insensitive to the
    service-time distribution. Inverting: a = ((-z + sqrt(z^2 + 4c)) / 2)^2.
  * Prompts queue for the prefill work that is mixed into decode passes: an M/G/1 queue with service s (one
    prompt's compute time), utilisation rho = lambda s, service SCV cv^2 (prompt-length variability).
    Pollaczek-Khinchine gives E[W] = rho s (1 + cv^2) / (2 (1 - rho)); the tail is taken exponential,
    P(W > t) = rho exp(-t / theta) with theta = E[W] / rho, so W_p = theta ln(rho / (1 - p)) when rho > 1 - p, else 0.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from planner.perf.common import Num


def z_score(percentile: float) -> float:
    """Standard normal quantile of the percentile (99 -> 2.326); 0 for the median."""
    return NormalDist().inv_cdf(min(max(percentile, 0.01), 99.99) / 100.0)


def slots_needed(load: Num, z: float) -> Num:
    """c = a + z sqrt(a): slots whose p-th percentile occupancy holds mean load a."""
    return load + z * np.sqrt(np.maximum(load, 0.0))


def load_for_slots(slots: Num, z: float) -> Num:
    """Inverse of `slots_needed`: a = ((-z + sqrt(z^2 + 4c)) / 2)^2."""
    s = np.maximum(slots, 0.0)
    return ((-z + np.sqrt(z * z + 4.0 * s)) / 2.0) ** 2


def mg1_wait_percentile(rho: Num, service_s: Num, cv2: float, percentile: float) -> Num:
    """p-th percentile of the M/G/1 waiting time (formula in the module docstring); inf when rho >= 1."""
    rho = np.asarray(rho, dtype=float)
    tail = 1.0 - percentile / 100.0
    safe = np.clip(rho, 1e-12, 1.0 - 1e-12)
    theta = service_s * (1.0 + cv2) / (2.0 * (1.0 - safe))
    w = np.where(safe > tail, theta * np.log(safe / tail), 0.0)
    return np.where(rho >= 1.0, np.inf, w)
