/* The beta distribution's quantile function, which ComfyUI's "beta"
 * scheduler takes from scipy.stats.beta.ppf. Double precision. */
#pragma once

/* Regularised incomplete beta function I_x(a, b) for a, b > 0 and
 * 0 ≤ x ≤ 1 (continued fraction, relative accuracy ~1e-14). */
double rl_beta_cdf (double x, double a, double b);

/* Inverse of rl_beta_cdf in x: the p-quantile of Beta(a, b) for
 * 0 ≤ p ≤ 1 (0 and 1 map to 0 and 1). Accurate to ~1e-14 absolute,
 * far below what the scheduler's rounding to a table index can see. */
double rl_beta_ppf (double p, double a, double b);
