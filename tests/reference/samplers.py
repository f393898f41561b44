#!/usr/bin/env python3
"""Self-contained PyTorch reference for Raylight's samplers and schedulers
(workers/sampling/), written from ComfyUI's published semantics for flow
models (comfy/model_sampling.py ModelSamplingDiscreteFlow + CONST,
comfy/samplers.py schedulers, KSampler and KSAMPLER.sample,
comfy/k_diffusion/sampling.py, comfy/extra_samplers/uni_pc.py, nodes.py
common_ksampler / KSamplerAdvanced). No ComfyUI import.

Everything runs on the CPU in float32, the way ComfyUI runs its per-step
scalars (0-dim float32 tensors) and its latents.

The 'model' is an analytic toy both sides compute identically:
    cond(x, s)   = tanh(x)      * (1 - 0.3 s) + 0.1 s
    uncond(x, s) = tanh(0.5 x)  * (1 - 0.2 s) - 0.05 s
and, for the second expert of the two-stage (A14B) runs,
    cond_b(x, s)   = tanh(1.5 x) * (1 - 0.25 s) + 0.2 s
    uncond_b(x, s) = tanh(0.25 x) * (1 - 0.1 s) - 0.1 s
combined by CFG: uncond + (cond - uncond) * cfg (uncond skipped at cfg 1).

Noise that ancestral / SDE / lcm steps draw comes from a bank of tensors in
the fixture ("bank", drawn in order, restarting for every KSampler call), so
the comparison does not depend on a random generator.

dpmpp_2m_sde's real noise, ComfyUI's BrownianTreeNoiseSampler over a
torchsde BrownianTree, is checked separately (torchsde 0.2.6 on the
PYTHONPATH; its wheel travels with the run): numpy SeedSequence states, the
tree's noise for every step of a schedule, and a whole dpmpp_2m_sde run with
that noise ("run/dpmpp_2m_sde_brownian").

Usage: python3 tests/reference/samplers.py OUT_DIR
writes OUT_DIR/samplers.safetensors (tests/samplers/data/ holds a copy).
"""
import math
import os
import sys

import numpy as np
import scipy.stats
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

torch.set_default_dtype(torch.float32)

# ------------------------------------------------------------ model sampling


def time_snr_shift(alpha, t):
    if alpha == 1.0:
        return t
    return alpha * t / (1 + (alpha - 1) * t)


class FlowSampling:
    """ModelSamplingDiscreteFlow with CONST prediction (ModelSamplingSD3)."""

    def __init__(self, shift, multiplier=1000, timesteps=1000):
        self.shift = shift
        self.multiplier = multiplier
        self.sigmas = self.sigma(
            (torch.arange(1, timesteps + 1, 1) / timesteps) * multiplier)

    @property
    def sigma_min(self):
        return self.sigmas[0]

    @property
    def sigma_max(self):
        return self.sigmas[-1]

    def timestep(self, sigma):
        return sigma * self.multiplier

    def sigma(self, timestep):
        return time_snr_shift(self.shift, timestep / self.multiplier)

    def percent_to_sigma(self, percent):
        if percent <= 0.0:
            return 1.0
        if percent >= 1.0:
            return 0.0
        return time_snr_shift(self.shift, 1.0 - percent)

    def noise_scaling(self, sigma, noise, latent):
        return sigma * noise + (1.0 - sigma) * latent

    def inverse_noise_scaling(self, sigma, latent):
        return latent / (1.0 - sigma)


# --------------------------------------------------------------- schedulers


def simple_scheduler(ms, steps):
    sigs = []
    ss = len(ms.sigmas) / steps
    for x in range(steps):
        sigs += [float(ms.sigmas[-(1 + int(x * ss))])]
    sigs += [0.0]
    return torch.FloatTensor(sigs)


def ddim_scheduler(ms, steps):
    x = 1
    if math.isclose(float(ms.sigmas[x]), 0, abs_tol=0.00001):
        steps += 1
        sigs = []
    else:
        sigs = [0.0]
    ss = max(len(ms.sigmas) // steps, 1)
    while x < len(ms.sigmas):
        sigs += [float(ms.sigmas[x])]
        x += ss
    sigs = sigs[::-1]
    return torch.FloatTensor(sigs)


def normal_scheduler(ms, steps, sgm=False):
    start = ms.timestep(ms.sigma_max)
    end = ms.timestep(ms.sigma_min)
    append_zero = True
    if sgm:
        timesteps = torch.linspace(start, end, steps + 1)[:-1]
    else:
        if math.isclose(float(ms.sigma(end)), 0, abs_tol=0.00001):
            steps += 1
            append_zero = False
        timesteps = torch.linspace(start, end, steps)
    sigs = [float(ms.sigma(timesteps[x])) for x in range(len(timesteps))]
    if append_zero:
        sigs += [0.0]
    return torch.FloatTensor(sigs)


def beta_scheduler(ms, steps, alpha=0.6, beta=0.6):
    total_timesteps = len(ms.sigmas) - 1
    ts = 1 - np.linspace(0, 1, steps, endpoint=False)
    ts = np.rint(scipy.stats.beta.ppf(ts, alpha, beta) * total_timesteps)
    sigs = []
    last_t = -1
    for t in ts:
        if t != last_t:
            sigs += [float(ms.sigmas[int(t)])]
        last_t = t
    sigs += [0.0]
    return torch.FloatTensor(sigs)


def append_zero(x):
    return torch.cat([x, x.new_zeros([1])])


def karras(n, sigma_min, sigma_max, rho=7.0):
    ramp = torch.linspace(0, 1, n)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return append_zero(sigmas)


def exponential(n, sigma_min, sigma_max):
    sigmas = torch.linspace(math.log(sigma_max), math.log(sigma_min), n).exp()
    return append_zero(sigmas)


def linear_quadratic(ms, steps, threshold_noise=0.025, linear_steps=None):
    if steps == 1:
        sigma_schedule = [1.0, 0.0]
    else:
        if linear_steps is None:
            linear_steps = steps // 2
        linear_sigma_schedule = [i * threshold_noise / linear_steps
                                 for i in range(linear_steps)]
        threshold_noise_step_diff = linear_steps - threshold_noise * steps
        quadratic_steps = steps - linear_steps
        quadratic_coef = threshold_noise_step_diff / (linear_steps *
                                                      quadratic_steps ** 2)
        linear_coef = threshold_noise / linear_steps - \
            2 * threshold_noise_step_diff / (quadratic_steps ** 2)
        const = quadratic_coef * (linear_steps ** 2)
        quadratic_sigma_schedule = [
            quadratic_coef * (i ** 2) + linear_coef * i + const
            for i in range(linear_steps, steps)]
        sigma_schedule = linear_sigma_schedule + quadratic_sigma_schedule + [1.0]
        sigma_schedule = [1.0 - x for x in sigma_schedule]
    return torch.FloatTensor(sigma_schedule) * ms.sigma_max.cpu()


def kl_optimal(n, sigma_min, sigma_max):
    adj_idxs = torch.arange(n, dtype=torch.float).div_(n - 1)
    sigmas = adj_idxs.new_zeros(n + 1)
    sigmas[:-1] = (adj_idxs * math.atan(sigma_min) +
                   (1 - adj_idxs) * math.atan(sigma_max)).tan_()
    return sigmas


SCHEDULERS = {
    "simple": simple_scheduler,
    "sgm_uniform": lambda ms, n: normal_scheduler(ms, n, sgm=True),
    "karras": lambda ms, n: karras(n, float(ms.sigma_min), float(ms.sigma_max)),
    "exponential": lambda ms, n: exponential(n, float(ms.sigma_min),
                                             float(ms.sigma_max)),
    "ddim_uniform": ddim_scheduler,
    "beta": beta_scheduler,
    "normal": normal_scheduler,
    "linear_quadratic": linear_quadratic,
    "kl_optimal": lambda ms, n: kl_optimal(n, float(ms.sigma_min),
                                           float(ms.sigma_max)),
}

DISCARD_PENULTIMATE = {"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"}


def calculate_sigmas(ms, scheduler, sampler, steps):
    discard = sampler in DISCARD_PENULTIMATE
    if discard:
        steps += 1
    sigmas = SCHEDULERS[scheduler](ms, steps)
    if discard:
        sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
    return sigmas


def ksampler_sigmas(ms, scheduler, sampler, steps, denoise):
    """comfy.samplers.KSampler.set_steps."""
    if denoise is None or denoise > 0.9999:
        return calculate_sigmas(ms, scheduler, sampler, steps)
    if denoise <= 0.0:
        return torch.FloatTensor([])
    new_steps = int(steps / denoise)
    return calculate_sigmas(ms, scheduler, sampler, new_steps)[-(steps + 1):]


# ------------------------------------------------------------- toy models


def _sv(s):
    return s.reshape([-1, 1, 1, 1, 1])


def toy_cond(x, s):
    return torch.tanh(x) * (1 - 0.3 * _sv(s)) + 0.1 * _sv(s)


def toy_uncond(x, s):
    return torch.tanh(0.5 * x) * (1 - 0.2 * _sv(s)) - 0.05 * _sv(s)


def toy_cond_b(x, s):
    return torch.tanh(1.5 * x) * (1 - 0.25 * _sv(s)) + 0.2 * _sv(s)


def toy_uncond_b(x, s):
    return torch.tanh(0.25 * x) * (1 - 0.1 * _sv(s)) - 0.1 * _sv(s)


class CfgDenoiser:
    """samplers.sampling_function + cfg_function for one cond, one uncond."""

    def __init__(self, cond, uncond, cfg):
        self.cond, self.uncond, self.cfg = cond, uncond, cfg
        self.calls = 0

    def __call__(self, x, sigma):
        self.calls += 1
        sigma = sigma.reshape([-1])
        c = self.cond(x, sigma)
        if math.isclose(self.cfg, 1.0):
            u = torch.zeros_like(x)
        else:
            u = self.uncond(x, sigma)
        return u + (c - u) * self.cfg


class BankNoise:
    """Noise sampler returning the bank's tensors in order."""

    def __init__(self, bank):
        self.bank, self.k = bank, 0

    def __call__(self, sigma, sigma_next):
        n = self.bank[self.k].clone()
        self.k += 1
        return n


# ----------------------------------------------------------------- samplers


def to_d(x, sigma, denoised):
    return (x - denoised) / sigma.reshape([1] * x.ndim)


def s_in_of(x):
    return x.new_ones([x.shape[0]])


def sample_euler(model, x, sigmas, ns, ms):
    s_in = s_in_of(x)
    for i in range(len(sigmas) - 1):
        sigma_hat = sigmas[i]
        denoised = model(x, sigma_hat * s_in)
        d = to_d(x, sigma_hat, denoised)
        dt = sigmas[i + 1] - sigma_hat
        x = x + d * dt
    return x


def sample_euler_ancestral_rf(model, x, sigmas, ns, ms, eta=1.0, s_noise=1.0):
    s_in = s_in_of(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            downstep_ratio = 1 + (sigmas[i + 1] / sigmas[i] - 1) * eta
            sigma_down = sigmas[i + 1] * downstep_ratio
            alpha_ip1 = 1 - sigmas[i + 1]
            alpha_down = 1 - sigma_down
            renoise_coeff = (sigmas[i + 1] ** 2 - sigma_down ** 2 * alpha_ip1 ** 2
                             / alpha_down ** 2) ** 0.5
            ratio = sigma_down / sigmas[i]
            x = ratio * x + (1 - ratio) * denoised
            if eta > 0:
                x = (alpha_ip1 / alpha_down) * x + \
                    ns(sigmas[i], sigmas[i + 1]) * s_noise * renoise_coeff
    return x


def sample_heun(model, x, sigmas, ns, ms):
    s_in = s_in_of(x)
    for i in range(len(sigmas) - 1):
        sigma_hat = sigmas[i]
        denoised = model(x, sigma_hat * s_in)
        d = to_d(x, sigma_hat, denoised)
        dt = sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            denoised_2 = model(x_2, sigmas[i + 1] * s_in)
            d_2 = to_d(x_2, sigmas[i + 1], denoised_2)
            d_prime = (d + d_2) / 2
            x = x + d_prime * dt
    return x


def sample_dpmpp_2m(model, x, sigmas, ns, ms):
    s_in = s_in_of(x)

    def sigma_fn(t):
        return t.neg().exp()

    def t_fn(sigma):
        return sigma.log().neg()

    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        if old_denoised is None or sigmas[i + 1] == 0:
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised
        else:
            h_last = t - t_fn(sigmas[i - 1])
            r = h_last / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


def sample_dpmpp_2m_sde(model, x, sigmas, ns, ms, eta=1.0, s_noise=1.0):
    """Midpoint solver; the Brownian-tree noise is replaced by the bank."""
    if len(sigmas) <= 1:
        return x
    s_in = s_in_of(x)

    def lambda_fn(sigma):  # CONST: half log-SNR = -logit(sigma)
        return sigma.logit().neg()

    if len(sigmas) > 1 and sigmas[0] >= 1:
        sigmas = sigmas.clone()
        sigmas[0] = ms.percent_to_sigma(1e-4)
    old_denoised = None
    h, h_last = None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            lambda_s, lambda_t = lambda_fn(sigmas[i]), lambda_fn(sigmas[i + 1])
            h = lambda_t - lambda_s
            h_eta = h * (eta + 1)
            alpha_t = sigmas[i + 1] * lambda_t.exp()
            x = sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x + \
                alpha_t * (-h_eta).expm1().neg() * denoised
            if old_denoised is not None:
                r = h_last / h
                x = x + 0.5 * alpha_t * (-h_eta).expm1().neg() * (1 / r) * \
                    (denoised - old_denoised)
            if eta > 0 and s_noise > 0:
                x = x + ns(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * \
                    (-2 * h * eta).expm1().neg().sqrt() * s_noise
        old_denoised = denoised
        h_last = h
    return x


def sample_lcm(model, x, sigmas, ns, ms):
    s_in = s_in_of(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        x = denoised
        if sigmas[i + 1] > 0:
            x = ms.noise_scaling(sigmas[i + 1], ns(sigmas[i], sigmas[i + 1]), x)
    return x


def sample_res_multistep(model, x, sigmas, ns, ms):
    """res_multistep with eta = 0 (sigma_down = sigma_next, sigma_up = 0)."""
    s_in = s_in_of(x)

    def sigma_fn(t):
        return t.neg().exp()

    def t_fn(sigma):
        return sigma.log().neg()

    def phi1_fn(t):
        return torch.expm1(t) / t

    def phi2_fn(t):
        return (phi1_fn(t) - 1.0) / t

    old_sigma_down = None
    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        sigma_down = sigmas[i + 1]
        if sigma_down == 0 or old_denoised is None:
            d = to_d(x, sigmas[i], denoised)
            dt = sigma_down - sigmas[i]
            x = x + d * dt
        else:
            t, t_old = t_fn(sigmas[i]), t_fn(old_sigma_down)
            t_next, t_prev = t_fn(sigma_down), t_fn(sigmas[i - 1])
            h = t_next - t
            c2 = (t_prev - t_old) / h
            phi1_val, phi2_val = phi1_fn(-h), phi2_fn(-h)
            b1 = torch.nan_to_num(phi1_val - phi2_val / c2, nan=0.0)
            b2 = torch.nan_to_num(phi2_val / c2, nan=0.0)
            x = sigma_fn(h) * x + h * (b1 * denoised + b2 * old_denoised)
        old_denoised = denoised
        old_sigma_down = sigma_down
    return x


# ------------------------------------------------------------------ uni_pc


class SigmaConvert:
    def marginal_log_mean_coeff(self, sigma):
        return 0.5 * torch.log(1 / ((sigma * sigma) + 1))

    def marginal_alpha(self, t):
        return torch.exp(self.marginal_log_mean_coeff(t))

    def marginal_std(self, t):
        return torch.sqrt(1. - torch.exp(2. * self.marginal_log_mean_coeff(t)))

    def marginal_lambda(self, t):
        log_mean_coeff = self.marginal_log_mean_coeff(t)
        log_std = 0.5 * torch.log(1. - torch.exp(2. * log_mean_coeff))
        return log_mean_coeff - log_std


class UniPC:
    def __init__(self, eps_fn, ns, variant):
        self.eps_fn, self.ns, self.variant = eps_fn, ns, variant

    def model_fn(self, x, t):  # data prediction, no thresholding
        noise = self.eps_fn(x, t)
        alpha_t, sigma_t = self.ns.marginal_alpha(t), self.ns.marginal_std(t)
        return (x - sigma_t.reshape([-1, 1, 1, 1, 1]) * noise) / \
            alpha_t.reshape([-1, 1, 1, 1, 1])

    def update(self, x, model_prev_list, t_prev_list, t, order, use_corrector):
        ns = self.ns
        t = t.view(-1) if len(t.shape) == 0 else t
        t_prev_0 = t_prev_list[-1]
        lambda_prev_0 = ns.marginal_lambda(t_prev_0)
        lambda_t = ns.marginal_lambda(t)
        model_prev_0 = model_prev_list[-1]
        sigma_prev_0, sigma_t = ns.marginal_std(t_prev_0), ns.marginal_std(t)
        alpha_t = torch.exp(ns.marginal_log_mean_coeff(t))
        h = lambda_t - lambda_prev_0
        rks, D1s = [], []
        for i in range(1, order):
            t_prev_i = t_prev_list[-(i + 1)]
            model_prev_i = model_prev_list[-(i + 1)]
            lambda_prev_i = ns.marginal_lambda(t_prev_i)
            rk = ((lambda_prev_i - lambda_prev_0) / h)[0]
            rks.append(rk)
            D1s.append((model_prev_i - model_prev_0) / rk)
        rks.append(1.)
        rks = torch.tensor(rks)
        R, b = [], []
        hh = -h[0]
        h_phi_1 = torch.expm1(hh)
        h_phi_k = h_phi_1 / hh - 1
        factorial_i = 1
        B_h = hh if self.variant == "bh1" else torch.expm1(hh)
        for i in range(1, order + 1):
            R.append(torch.pow(rks, i - 1))
            b.append(h_phi_k * factorial_i / B_h)
            factorial_i *= (i + 1)
            h_phi_k = h_phi_k / hh - 1 / factorial_i
        R = torch.stack(R)
        b = torch.tensor(b)
        use_predictor = len(D1s) > 0
        if len(D1s) > 0:
            D1s = torch.stack(D1s, dim=1)
            if order == 2:
                rhos_p = torch.tensor([0.5])
            else:
                rhos_p = torch.linalg.solve(R[:-1, :-1], b[:-1])
        else:
            D1s = None
        if use_corrector:
            if order == 1:
                rhos_c = torch.tensor([0.5])
            else:
                rhos_c = torch.linalg.solve(R, b)
        model_t = None
        x_t_ = (sigma_t / sigma_prev_0).reshape([-1, 1, 1, 1, 1]) * x - \
            (alpha_t * h_phi_1).reshape([-1, 1, 1, 1, 1]) * model_prev_0
        if use_predictor:
            pred_res = torch.tensordot(D1s, rhos_p, dims=([1], [0]))
        else:
            pred_res = 0
        x_t = x_t_ - (alpha_t * B_h).reshape([-1, 1, 1, 1, 1]) * pred_res
        if use_corrector:
            model_t = self.model_fn(x_t, t)
            if D1s is not None:
                corr_res = torch.tensordot(D1s, rhos_c[:-1], dims=([1], [0]))
            else:
                corr_res = 0
            D1_t = (model_t - model_prev_0)
            x_t = x_t_ - (alpha_t * B_h).reshape([-1, 1, 1, 1, 1]) * \
                (corr_res + rhos_c[-1] * D1_t)
        return x_t, model_t

    def sample(self, x, timesteps, order):
        steps = len(timesteps) - 1
        assert steps >= order
        for step_index in range(steps):
            if step_index == 0:
                vec_t = timesteps[0].expand((x.shape[0]))
                model_prev_list = [self.model_fn(x, vec_t)]
                t_prev_list = [vec_t]
            elif step_index < order:
                init_order = step_index
                vec_t = timesteps[init_order].expand(x.shape[0])
                x, model_x = self.update(x, model_prev_list, t_prev_list, vec_t,
                                         init_order, True)
                if model_x is None:
                    model_x = self.model_fn(x, vec_t)
                model_prev_list.append(model_x)
                t_prev_list.append(vec_t)
            else:
                extra_final_step = 1 if step_index == steps - 1 else 0
                for step in range(step_index, step_index + 1 + extra_final_step):
                    vec_t = timesteps[step].expand(x.shape[0])
                    step_order = min(order, steps + 1 - step)
                    use_corrector = step != steps
                    x, model_x = self.update(x, model_prev_list, t_prev_list,
                                             vec_t, step_order, use_corrector)
                    for i in range(order - 1):
                        t_prev_list[i] = t_prev_list[i + 1]
                        model_prev_list[i] = model_prev_list[i + 1]
                    t_prev_list[-1] = vec_t
                    if step < steps:
                        if model_x is None:
                            model_x = self.model_fn(x, vec_t)
                        model_prev_list[-1] = model_x
        return x


def make_unipc(variant):
    def sample(model, noise, sigmas, ns_unused, ms):
        # ComfyUI writes 0.001 into the caller's sigmas (a view), so the
        # final inverse_noise_scaling sees 0.001 too.
        if sigmas[-1] == 0:
            timesteps = sigmas[:]
            timesteps[-1] = 0.001
        else:
            timesteps = sigmas.clone()
        conv = SigmaConvert()
        noise = noise / torch.sqrt(1.0 + timesteps[0] ** 2.0)

        def eps_fn(inp, sigma_in):
            sigma = sigma_in.view(sigma_in.shape[:1] + (1,) * (inp.ndim - 1))
            inp = inp * ((sigma ** 2 + 1.0) ** 0.5)
            return (inp - model(inp, sigma_in)) / sigma

        order = min(3, len(timesteps) - 2)
        x = UniPC(eps_fn, conv, variant).sample(noise, timesteps, order)
        x /= conv.marginal_alpha(timesteps[-1])
        return x
    return sample


SAMPLERS = {
    "euler": sample_euler,
    "euler_ancestral": sample_euler_ancestral_rf,
    "heun": sample_heun,
    "dpmpp_2m": sample_dpmpp_2m,
    "dpmpp_2m_sde": sample_dpmpp_2m_sde,
    "uni_pc": make_unipc("bh1"),
    "uni_pc_bh2": make_unipc("bh2"),
    "res_multistep": sample_res_multistep,
    "lcm": sample_lcm,
    "ddim": sample_euler,   # ComfyUI: euler with random inpaint noise only
}


def ksampler(sampler, scheduler, steps, cfg, denoise, shift, noise, latent,
             bank, cond, uncond, start_step=None, last_step=None,
             force_full_denoise=False, add_noise=True, brownian_seed=None):
    """nodes.common_ksampler -> KSampler.sample -> KSAMPLER.sample."""
    ms = FlowSampling(shift)
    sigmas = ksampler_sigmas(ms, scheduler, sampler, steps, denoise)
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[:last_step + 1]
        if force_full_denoise:
            sigmas[-1] = 0
    if start_step is not None:
        if start_step < len(sigmas) - 1:
            sigmas = sigmas[start_step:]
        else:
            return latent.clone(), 0
    if sigmas.shape[-1] == 0:
        return latent.clone(), 0
    if not add_noise:
        noise = torch.zeros_like(latent)
    model = CfgDenoiser(cond, uncond, cfg)
    x = ms.noise_scaling(sigmas[0], noise, latent)
    if brownian_seed is not None:
        ns = BrownianTreeNoise(x, sigmas[sigmas > 0].min(), sigmas.max(),
                               brownian_seed)
    else:
        ns = BankNoise(bank)
    x = SAMPLERS[sampler](model, x, sigmas, ns, ms)
    x = ms.inverse_noise_scaling(sigmas[-1], x)
    return x, model.calls


# -------------------------------------------------------------- fixtures

# (steps, denoise, shift, sampler) for every scheduler; the C test keeps
# the same table (tests/samplers/test-schedulers.c).
SIGMA_SETTINGS = [
    (6, 1.0, 5.0, "euler"),
    (20, 1.0, 8.0, "euler"),
    (10, 0.6, 3.0, "euler"),
    (7, 1.0, 1.0, "euler"),
    (30, 0.85, 12.0, "euler"),
    (9, 1.0, 5.0, "uni_pc"),
    (1, 1.0, 3.0, "euler"),
    (4, 0.5, 5.0, "uni_pc"),
    (13, 1.0, 0.5, "euler"),
    (50, 1.0, 5.0, "euler"),
]

# name: (sampler, scheduler, steps, cfg, denoise, shift, latent nonzero)
RUNS = {
    "euler": ("euler", "simple", 6, 3.5, 1.0, 5.0, False),
    "euler_ancestral": ("euler_ancestral", "simple", 6, 3.5, 1.0, 5.0, False),
    "heun": ("heun", "simple", 6, 3.5, 1.0, 5.0, False),
    "dpmpp_2m": ("dpmpp_2m", "simple", 6, 3.5, 1.0, 5.0, False),
    "dpmpp_2m_sde": ("dpmpp_2m_sde", "simple", 6, 3.5, 1.0, 5.0, False),
    "uni_pc": ("uni_pc", "simple", 6, 3.5, 1.0, 5.0, False),
    "uni_pc_bh2": ("uni_pc_bh2", "simple", 6, 3.5, 1.0, 5.0, False),
    "res_multistep": ("res_multistep", "simple", 6, 3.5, 1.0, 5.0, False),
    "lcm": ("lcm", "simple", 6, 3.5, 1.0, 5.0, False),
    "ddim": ("ddim", "simple", 6, 3.5, 1.0, 5.0, False),
    "euler_cfg1": ("euler", "simple", 6, 1.0, 1.0, 5.0, False),
    "dpmpp_2m_denoise": ("dpmpp_2m", "normal", 8, 3.5, 0.6, 8.0, True),
    "uni_pc_3": ("uni_pc", "beta", 3, 3.5, 1.0, 5.0, False),
    "uni_pc_bh2_denoise": ("uni_pc_bh2", "karras", 7, 2.5, 0.75, 3.0, True),
    "res_multistep_karras": ("res_multistep", "karras", 7, 3.5, 1.0, 5.0, False),
    "heun_sgm": ("heun", "sgm_uniform", 5, 2.0, 1.0, 3.0, False),
    "dpmpp_2m_sde_exp": ("dpmpp_2m_sde", "exponential", 5, 3.0, 1.0, 5.0, False),
    "euler_ancestral_denoise": ("euler_ancestral", "ddim_uniform", 6, 3.5, 0.7,
                                5.0, True),
}

# Two KSamplerAdvanced nodes as in Wan 2.2 A14B: high-noise expert for steps
# [0, switch) with leftover noise, low-noise expert for [switch, end) without
# adding noise. name: (sampler, scheduler, steps, cfg, shift, switch)
TWO_STAGE = {
    "two_stage_dpmpp_2m": ("dpmpp_2m", "simple", 8, 3.5, 8.0, 4),
    "two_stage_euler_ancestral": ("euler_ancestral", "simple", 8, 3.5, 8.0, 3),
    "two_stage_uni_pc": ("uni_pc", "simple", 8, 3.5, 8.0, 5),
}

SHAPE = [1, 4, 2, 4, 4]
BANK_SIZE = 16


# ------------------------------------------------------ brownian tree noise


class BrownianTreeNoise:
    """ComfyUI's BrownianTreeNoiseSampler (cpu=True) around
    BatchedBrownianTree around torchsde.BrownianTree, one seed."""

    def __init__(self, x, sigma_min, sigma_max, seed):
        import torchsde
        t0, t1 = torch.as_tensor(sigma_min), torch.as_tensor(sigma_max)
        t0, t1, self.sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        w0 = torch.zeros_like(x)
        self.tree = torchsde.BrownianTree(t0.cpu(), w0.cpu(), t1.cpu(),
                                          entropy=seed)

    def __call__(self, sigma, sigma_next):
        t0, t1 = torch.as_tensor(sigma), torch.as_tensor(sigma_next)
        a, b, sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        w = self.tree(a.cpu().float(), b.cpu().float()) * (self.sign * sign)
        return w / (t1 - t0).abs().sqrt()


BROWNIAN_SEED = 0x1234567890AB   # two 32-bit words of entropy
SEED_SEQUENCE_CASES = [
    # (entropy, spawn_key, pool_size, n_words)
    (0, (), 4, 4),
    (12345, (), 24, 3),
    (BROWNIAN_SEED, (), 24, 3),
    (BROWNIAN_SEED, (0, 0), 24, 4),
    (BROWNIAN_SEED, (5, 3), 24, 4),
    (7, (123456, 17), 24, 4),
    (2 ** 64 - 1, (2 ** 33 + 5, 34), 24, 4),
    (99, (1, 1), 4, 6),
]


def brownian_fixtures(tensors, noise, bank):
    import numpy.random
    for k, (entropy, key, pool, words) in enumerate(SEED_SEQUENCE_CASES):
        state = numpy.random.SeedSequence(entropy, spawn_key=key,
                                          pool_size=pool).generate_state(words)
        tensors["seedseq/%d" % k] = state.astype(np.uint32).view(np.int32)
    zeros = torch.zeros(SHAPE)
    for k, (scheduler, steps, shift, seed) in enumerate(BROWNIAN_CASES):
        ms = FlowSampling(shift)
        sigmas = ksampler_sigmas(ms, scheduler, "dpmpp_2m_sde", steps, 1.0)
        ns = BrownianTreeNoise(zeros, sigmas[sigmas > 0].min(), sigmas.max(),
                               seed)
        offset = sigmas.clone()
        if offset[0] >= 1:
            offset[0] = ms.percent_to_sigma(1e-4)
        draws = [ns(offset[i], offset[i + 1]) for i in range(len(offset) - 1)
                 if offset[i + 1] > 0]
        tensors["brownian/%d" % k] = torch.stack(draws).numpy()
        print("brownian case %d: %d draws, std %.4f" %
              (k, len(draws), float(torch.stack(draws).std())))
    smp, sch, steps, cfg, den, shift, _ = RUNS["dpmpp_2m_sde"]
    out, _ = ksampler(smp, sch, steps, cfg, den, shift, noise, zeros, bank,
                      toy_cond, toy_uncond, brownian_seed=BROWNIAN_SEED)
    tensors["run/dpmpp_2m_sde_brownian"] = out.numpy().astype(np.float32)


# (scheduler, steps, shift, seed); the C test keeps the same table.
BROWNIAN_CASES = [
    ("simple", 6, 5.0, BROWNIAN_SEED),
    ("karras", 9, 3.0, 42),
    ("beta", 20, 8.0, 2 ** 64 - 1),
]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    print("torch", torch.__version__, "cpu capability",
          torch.backends.cpu.get_cpu_capability())
    print("scipy beta.ppf(0.5, 0.6, 0.6) = %r" %
          float(scipy.stats.beta.ppf(0.5, 0.6, 0.6)))
    tensors = {}
    settings = np.array([[s, d, sh, 1.0 if smp == "uni_pc" else 0.0]
                         for s, d, sh, smp in SIGMA_SETTINGS], dtype=np.float32)
    tensors["sigma_settings"] = settings
    for name in SCHEDULERS:
        for k, (steps, denoise, shift, smp) in enumerate(SIGMA_SETTINGS):
            try:
                ms = FlowSampling(shift)
                sig = ksampler_sigmas(ms, name, smp, steps, denoise)
                tensors["sigmas/%s/%d" % (name, k)] = sig.numpy().astype(np.float32)
            except Exception as e:  # keep the other fixtures
                print("sigmas %s %d failed: %r" % (name, k, e))

    gen = torch.Generator().manual_seed(20261127)
    noise = torch.randn(SHAPE, generator=gen)
    latent = torch.randn(SHAPE, generator=gen) * 0.5
    bank = torch.randn([BANK_SIZE] + SHAPE, generator=gen)
    tensors["noise"] = noise.numpy()
    tensors["latent"] = latent.numpy()
    tensors["bank"] = bank.numpy()
    zeros = torch.zeros(SHAPE)

    for name, (smp, sch, steps, cfg, den, shift, use_lat) in RUNS.items():
        try:
            lat = latent if use_lat else zeros
            out, calls = ksampler(smp, sch, steps, cfg, den, shift, noise, lat,
                                  bank, toy_cond, toy_uncond)
            tensors["run/" + name] = out.numpy().astype(np.float32)
            tensors["calls/" + name] = np.array([calls], dtype=np.int32)
            print("run %-26s calls %3d  |out| %.6f" %
                  (name, calls, float(out.abs().mean())))
        except Exception as e:
            print("run %s failed: %r" % (name, e))

    for name, (smp, sch, steps, cfg, shift, switch) in TWO_STAGE.items():
        try:
            stage1, _ = ksampler(smp, sch, steps, cfg, 1.0, shift, noise, zeros,
                                 bank, toy_cond, toy_uncond, start_step=0,
                                 last_step=switch, force_full_denoise=False,
                                 add_noise=True)
            stage2, _ = ksampler(smp, sch, steps, cfg, 1.0, shift, noise, stage1,
                                 bank, toy_cond_b, toy_uncond_b,
                                 start_step=switch, last_step=10000,
                                 force_full_denoise=True, add_noise=False)
            tensors["stage1/" + name] = stage1.numpy().astype(np.float32)
            tensors["run/" + name] = stage2.numpy().astype(np.float32)
            print("run %-26s |out| %.6f" % (name, float(stage2.abs().mean())))
        except Exception as e:
            print("two-stage %s failed: %r" % (name, e))

    try:
        brownian_fixtures(tensors, noise, bank)
    except Exception as e:
        print("brownian fixtures failed: %r" % (e,))

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "samplers.safetensors")
    safetensors_io.save(path, tensors)
    print("wrote", path, len(tensors), "tensors")


if __name__ == "__main__":
    main()
