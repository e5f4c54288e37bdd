"""The AMCCL loss (spec §3): L1 + gamma · fine-grained supervised contrastive loss.

``amccl_loss`` is the fast path. The positive-weight matrix P is built once per batch, the
three feature sets are normalised once, and one (3B, 3B) matmul of the stacked, normalised
features gives every similarity the six pair terms need. The whole loss is one
``torch.autograd.Function`` whose backward is written in closed form (a few batched ops
and one matmul), so a step records one autograd node for the loss instead of ~40, and
nothing is read back to the host. ``impl="compiled"`` runs the same maths through
``torch.compile``; ``impl="autograd"`` records the batched maths op by op (the previous fast
path, kept as a second yardstick and for double backward). ``amccl.losses_literal``
transcribes the spec term by term; the tests check that all give the same numbers.

Pair terms for feature sets A, B (rows L2-normalised), S = A Bᵀ:

* contrastive ``C(A,B) = mean_ij -log(exp(P_ij S_ij / T) / Σ_k exp(S_ik / T))``
  (mean over all B×B entries, quirk; ``contrastive_mean="positives"`` averages over P > 0);
* refine ``R(A,B) = -mean_ij(P_ij S_ij)``;  pair loss ``C + lambda_refine · R``;
* margin ``Mg(A,B) = ReLU(alpha - (s_intra - s_inter))``.

``inter`` sums pair loss + margin over (v,a), (v,t), (t,a); ``intra`` sums pair loss over
(v,v), (a,a), (t,t); ``L_cl = inter_weight · inter + intra_weight · intra``.

Closed form used by the fused path. Stack the rows x = f / (|f| √T) of the three feature
sets into X (3B, d); then L = X Xᵀ holds S_ab / T in block (a, b). All nine blocks are
computed (the three unused ones get weight 0); per block only two statistics are needed:

* ``psum_ab = Σ_ij P'_ij S_ab,ij / T`` with P' = P / gain, which gives W_ab = mean(P ⊙ S_ab)
  = gain · T · psum_ab / B² (refine is -W; the margin's s_inter, s_intra are W's);
* the row log-sum-exps ``lse_aib = log Σ_j exp(S_ab,ij / T)``, which give
  ``C_ab = Σ_i c_i lse_aib - κ gain psum_ab`` with c_i = 1/B, κ = 1/B² (mean over all
  entries) or c_i = (#positives in row i) / N, κ = 1/N (mean over the N positive entries).

The seven parts are one matrix-vector product of these statistics (a constant matrix per
config, device and batch size). Since |S| <= 1, exp(S / T) is computed without a max shift
when 1/T <= 70 (T = 0.03: e^±33), so E = exp(L) stays symmetric like L.

Backward, with r_aib = d lse_aib / Σ_j E_aibj: ``dL/dL_(ai)(bj) = r_aib E_(ai)(bj) + P'_ij d psum_ab``,
the Gram's gradient ``(D + Dᵀ) X`` = ``(E ⊙ (r_aib + r_bja) + P' ⊙ (d psum + d psumᵀ)) X``,
then F.normalize's backward.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from amccl.config import AMCCLConfig

# Modality order in the stacked features, and the pair terms as (A, B) indices.
T_, A_, V_ = 0, 1, 2
INTER_PAIRS = ((V_, A_), (V_, T_), (T_, A_))
INTRA_PAIRS = ((V_, V_), (A_, A_), (T_, T_))
PARTS = ("loss", "l1", "contrastive", "inter", "intra", "refine", "margin")
IMPLS = ("fused", "compiled", "autograd")
_EPS = 1e-12  # F.normalize's default eps


def normalise_labels(labels: Tensor, dataset: str) -> Tensor:
    """u (B,) float32: ``(y + 3) / 3 - 1`` for MOSI/MOSEI (the reference's rounding), y for SIMS."""
    y = labels.reshape(-1).float()
    if dataset.startswith("sims"):
        return y
    return (y + 3) / 3 - 1


def positive_weights(labels: Tensor, cfg: AMCCLConfig) -> Tensor:
    """P (B, B): ``gain · exp(-D_ij / k)`` for same-sign pairs with ``D_ij <= k``, else 0.

    D_ij = |u_i - u_j| on normalised labels; sign(0) = 0, so neutral is its own polarity.
    With ``cfg.positives == "polarity"`` P is binary: 1 for every same-sign pair.
    """
    u = normalise_labels(labels, cfg.dataset)
    sign = torch.sign(u)
    same_sign = sign.unsqueeze(1) == sign.unsqueeze(0)
    if cfg.positives == "polarity":
        return same_sign.float()
    dist = (u.unsqueeze(1) - u.unsqueeze(0)).abs()
    weight = cfg.gain * torch.exp(-dist / cfg.k)
    return torch.where(same_sign & (dist <= cfg.k), weight, 0.0)


def _pair_blocks(features: Tensor, pairs: tuple[tuple[int, int], ...]) -> Tensor:
    """Similarity blocks (n_pairs, B, B) of stacked, normalised features (3, B, d)."""
    a = features[[p[0] for p in pairs]]  # (n, B, d)
    b = features[[p[1] for p in pairs]]
    return a @ b.transpose(1, 2)


def contrastive_terms(sim: Tensor, weights: Tensor, cfg: AMCCLConfig) -> Tensor:
    """C(A,B) for each block: sim (n, B, B), P (B, B) -> (n,)."""
    logits = sim / cfg.temperature
    nll = torch.logsumexp(logits, dim=2, keepdim=True) - weights * logits  # (n, B, B)
    if cfg.contrastive_mean == "positives":
        positive = (weights > 0).to(nll.dtype)
        return (nll * positive).sum((1, 2)) / positive.sum().clamp_min(1.0)
    return nll.mean((1, 2))


def amccl_loss(outputs: dict[str, Tensor], labels: Tensor, cfg: AMCCLConfig,
               impl: str = "fused") -> dict[str, Tensor]:
    """Total loss and its parts for one batch.

    Args:
        outputs: the model's dict; uses ``M`` (B, 1) and ``Feature_t/a/v`` (B, d).
        labels: (B,) or (B, 1) sentiment labels.
        cfg: supplies dataset, gamma, weights, k, gain, T, lambda_refine, alpha and switches.
        impl: ``"fused"`` (default: one autograd node with a closed-form backward),
            ``"compiled"`` (the fused maths through ``torch.compile``, compiled on first use
            for each batch size: seconds, then a little faster on CPU; meant for GPUs, where
            it also merges kernel launches) or ``"autograd"`` (the same batched maths
            recorded op by op; supports double backward). All give the literal
            transcription's numbers (to float32 rounding). The loss always runs in float32,
            also inside an autocast region.

    Returns:
        0-dim float32 tensors: ``loss`` (backpropagate this), ``l1``, ``contrastive`` (L_cl),
        ``inter``, ``intra``, ``refine`` (Σ of R over the six pairs, before lambda_refine)
        and ``margin`` (Σ of Mg over the three inter pairs). Nothing is read back to the host.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if cfg.gamma != 0 and impl != "autograd":
        values = _FusedAMCCLLoss.apply(outputs["M"], outputs["Feature_t"], outputs["Feature_a"],
                                       outputs["Feature_v"], labels, _Spec.of(cfg), impl == "compiled")
        return dict(zip(PARTS, values))
    pred = outputs["M"].reshape(-1).float()
    target = labels.reshape(-1).to(pred.device, pred.dtype)
    l1 = (pred - target).abs().mean()
    if cfg.gamma == 0:
        zero = l1.new_zeros(())
        return dict(loss=l1, l1=l1, contrastive=zero, inter=zero, intra=zero, refine=zero, margin=zero)
    cl = contrastive_parts(outputs, labels, cfg)
    return dict(loss=l1 + cfg.gamma * cl["contrastive"], l1=l1, **cl)


def contrastive_parts(outputs: dict[str, Tensor], labels: Tensor, cfg: AMCCLConfig) -> dict[str, Tensor]:
    """L_cl and its parts (``contrastive``, ``inter``, ``intra``, ``refine``, ``margin``), in float32,
    recorded op by op by autograd (``impl="autograd"``)."""
    feats = torch.stack([outputs["Feature_t"], outputs["Feature_a"], outputs["Feature_v"]]).float()
    feats = F.normalize(feats, dim=2)  # (3, B, d)
    weights = positive_weights(labels.to(feats.device), cfg)  # built once, shared by all terms
    sim = _pair_blocks(feats, INTER_PAIRS + INTRA_PAIRS)  # (6, B, B)
    contrast = contrastive_terms(sim, weights, cfg)  # (6,)
    weighted_mean = (weights * sim).mean((1, 2))  # (6,) mean(P ⊙ S)
    refine = -weighted_mean
    pair = contrast + cfg.lambda_refine * refine
    # s_intra of an inter pair (A, B) averages mean(P ⊙ AAᵀ) and mean(P ⊙ BBᵀ): intra blocks.
    self_mean = {INTRA_PAIRS[i][0]: weighted_mean[3 + i] for i in range(3)}
    s_intra = torch.stack([(self_mean[a] + self_mean[b]) / 2 for a, b in INTER_PAIRS])
    margin = torch.relu(cfg.alpha - (s_intra - weighted_mean[:3])) if cfg.use_margin else torch.zeros_like(s_intra)
    inter = (pair[:3] + margin).sum()
    intra = pair[3:].sum()
    total = cfg.inter_weight * inter + cfg.intra_weight * intra
    return dict(contrastive=total, inter=inter, intra=intra, refine=refine.sum(), margin=margin.sum())


# --- the fused path --------------------------------------------------------------------------
class _Constants:
    """Matrices of one (config, device, batch size), built once and reused every step: a step
    builds no constant tensors (and, on a GPU, copies nothing to the device).

    The seven parts are ``forward @ stats`` for the per-batch statistics vector
    ``stats = [lse (n_lse), psum (9), l1, Mg (9, only with use_margin)]`` where, for block
    (a, b) (row-major index q = 3a + b):

    * lse: every row's ``lse_i(S_ab / T)`` (9B entries, ``[a, i, b]`` order) when the
      contrastive mean runs over all entries; ``C_ab`` itself (9) with the positives-only mean;
    * psum: ``Σ_ij P'_ij S_ab,ij / T`` with ``P' = P / gain`` (gain > 0 is folded in here);
    * Mg: ``ReLU(alpha + margin @ psum)`` = ``ReLU(alpha - (W_aa + W_bb) / 2 + W_ab)``.
    """

    def __init__(self, spec: _Spec, device: torch.device, batch: int) -> None:
        inv2 = 1.0 / (batch * batch)
        temp, lam, m = spec.temperature, spec.lambda_refine, float(spec.use_margin)
        scale = spec.gain if spec.fold_gain else 1.0  # Σ P S = scale · Σ P' S
        inter = [3 * a + b for a, b in INTER_PAIRS]
        intra = [3 * a + b for a, b in INTRA_PAIRS]
        # Coefficients of the parts over (C (9), W (9), l1, Mg (9)), in float64.
        c_w = torch.zeros(7, 28, dtype=torch.float64)
        row = {name: i for i, name in enumerate(PARTS)}
        for blocks, part in ((inter, "inter"), (intra, "intra")):
            c_w[row[part], blocks] = 1.0  # C
            c_w[row[part], [9 + q for q in blocks]] = -lam  # lambda_refine · R = -lambda · W
        c_w[row["inter"], [19 + q for q in inter]] = m
        c_w[row["refine"], [9 + q for q in inter + intra]] = -1.0
        c_w[row["margin"], [19 + q for q in inter]] = m
        c_w[row["contrastive"]] = spec.inter_weight * c_w[row["inter"]] + spec.intra_weight * c_w[row["intra"]]
        c_w[row["l1"], 18] = 1.0 / batch  # the statistic is Σ |M - y|
        c_w[row["loss"]] = c_w[row["l1"]] + spec.gamma * c_w[row["contrastive"]]
        c_part, w_part, rest = c_w[:, :9], c_w[:, 9:18], c_w[:, 18:28 if spec.use_margin else 19]
        # In the statistics computed: W = scale · psum · T / B²;
        # mean over all entries: C = mean_i lse_i - scale · psum / B² (lse enters per row, / B).
        psum = w_part * (scale * temp * inv2)
        if spec.mean_all:
            psum = psum - c_part * (scale * inv2)
            lse = (c_part / batch).view(7, 3, 1, 3).expand(7, 3, batch, 3).reshape(7, 9 * batch)
        else:
            lse = c_part
        fwd = torch.cat([lse, psum, rest], dim=1)
        self.n_lse = lse.size(1)
        # Mg_ab = alpha - (W_aa + W_bb) / 2 + W_ab = alpha + margin @ psum.
        margin = torch.zeros(9, 9, dtype=torch.float64)
        for a in range(3):
            for b in range(3):
                margin[3 * a + b, 3 * a + b] += 1.0
                margin[3 * a + b, 4 * a] -= 0.5
                margin[3 * a + b, 4 * b] -= 0.5
        margin *= scale * temp * inv2

        def dev(x: Tensor) -> Tensor:
            return x.to(device=device, dtype=torch.float32).contiguous()

        bwd = fwd.t()  # d stats = fwdᵀ d parts
        self.forward, self.backward = dev(fwd), dev(bwd)
        self.backward_loss = dev(bwd[:, 0])  # the common case: only ``loss`` is backpropagated
        self.margin, self.margin_t = dev(margin), dev(margin.t())
        self.alpha = torch.full((9,), spec.alpha, dtype=torch.float32, device=device)
        self.root_t = spec.temperature ** 0.5


class _Spec:
    """The loss constants of a config; duck-types the fields :func:`positive_weights` reads."""

    _cache: dict[tuple, _Spec] = {}

    def __init__(self, key: tuple) -> None:
        (self.dataset, self.positives, self.gain, self.k, self.temperature, self.lambda_refine,
         self.alpha, self.use_margin, self.inter_weight, self.intra_weight, self.gamma,
         self.mean_all) = key
        self.fold_gain = self.positives != "polarity" and self.gain > 0
        # |S| <= 1, so exp(S / T) neither overflows nor underflows in float32 when 1/T is
        # moderate (T = 0.03: e^±33): the row sums need no max shift and exp(S / T) stays
        # symmetric like S. Smaller temperatures shift every row by its maximum.
        self.unshifted = 1.0 / self.temperature <= 70.0
        self._constants: dict[tuple[torch.device, int], _Constants] = {}

    @classmethod
    def of(cls, cfg: AMCCLConfig) -> _Spec:
        key = (cfg.dataset, cfg.positives, float(cfg.gain), float(cfg.k), float(cfg.temperature),
               float(cfg.lambda_refine), float(cfg.alpha), bool(cfg.use_margin),
               float(cfg.inter_weight), float(cfg.intra_weight), float(cfg.gamma),
               cfg.contrastive_mean != "positives")
        spec = cls._cache.get(key)
        if spec is None:
            if len(cls._cache) >= 64:
                cls._cache.clear()
            spec = cls._cache[key] = cls(key)
        return spec

    def constants(self, device: torch.device, batch: int) -> _Constants:
        key = (device, batch)
        consts = self._constants.get(key)
        if consts is None:
            if len(self._constants) >= 64:
                self._constants.clear()
            consts = self._constants[key] = _Constants(self, device, batch)
        return consts

    def unit_weights(self, target: Tensor) -> Tensor:
        """P / gain (B, B), the same values as :func:`positive_weights` in fewer ops."""
        if not self.fold_gain:
            return positive_weights(target, self)
        u = normalise_labels(target, self.dataset)
        sign = torch.sign(u)
        dist = (u.unsqueeze(1) - u.unsqueeze(0)).abs_()
        positive = (sign.unsqueeze(1) == sign.unsqueeze(0)).logical_and_(dist <= self.k)
        return torch.exp(dist / -self.k).mul_(positive)


def _fused_forward(m: Tensor, t: Tensor, a: Tensor, v: Tensor, labels: Tensor, spec: _Spec,
                   fwd: Tensor, alpha: Tensor, margin: Tensor, root_t: float):
    """The fused forward maths (no autograd): the parts (7,) and what backward needs.

    S / T for all nine modality blocks comes from one matmul of the stacked rows
    f / (|f| √T); per block, the row sums of exp(S / T) and Σ P ⊙ S / T; the seven parts are
    one matrix-vector product of those statistics.
    """
    pred = m.reshape(-1).float()
    target = labels.reshape(-1).to(pred.device, torch.float32)
    l1_sum = torch.dist(pred, target, 1)  # Σ |M - y|
    if t.dtype == a.dtype == v.dtype == torch.float32:
        feats = torch.stack([t, a, v])  # (3, B, d)
    else:
        feats = torch.stack([t.float(), a.float(), v.float()])
    batch = feats.size(1)
    norm = torch.linalg.vector_norm(feats, dim=2, keepdim=True)  # (3, B, 1)
    denom = norm.clamp_min(_EPS) * root_t  # F.normalize's denominator, times √T
    rows = (feats / denom).view(3 * batch, -1)  # normalised rows / √T
    weights = spec.unit_weights(target)  # P (/ gain), once per batch
    logits = rows @ rows.t()  # (3B, 3B): block (a, b) is S_ab / T
    psum = (logits.view(3, batch, 3, batch) * weights.view(1, batch, 1, batch)).sum((1, 3)).view(9)
    blocks = logits.view(3 * batch, 3, batch)
    if spec.unshifted:
        shift = None
        exp = blocks.exp_()  # exp(S / T), symmetric as S is
    else:
        shift = blocks.amax(2, keepdim=True)
        exp = blocks.sub_(shift).exp_()
    sums = exp.sum(2)  # (3B, 3): Σ_j exp(S_ab,ij / T) at [a·B + i, b]
    lse = sums.log() if shift is None else sums.log() + shift.view(3 * batch, 3)
    row_weights = kappa = None
    if spec.mean_all:
        lse_part = lse.view(-1)
    else:  # C = Σ_i c_i lse_i - κ Σ P S / T with c_i = #positives in row i / N, κ = 1 / N
        positive = (weights > 0).float()
        count = positive.sum().clamp_min(1.0)
        row_weights = positive.sum(1) / count
        kappa = (spec.gain if spec.fold_gain else 1.0) / count
        lse_part = (lse.view(3, batch, 3) * row_weights.view(1, batch, 1)).sum(1).view(9) - psum * kappa
    margin_in = None
    if spec.use_margin:
        margin_in = torch.addmv(alpha, margin, psum)
        stats = torch.cat([lse_part, psum, l1_sum.view(1), torch.relu(margin_in)])
    else:
        stats = torch.cat([lse_part, psum, l1_sum.view(1)])
    out = fwd @ stats  # (7,): loss, l1, contrastive, inter, intra, refine, margin
    return out, (pred, target, rows, norm, denom, exp, sums, weights, margin_in, row_weights, kappa)


def _fused_backward(d: Tensor, saved: tuple, spec: _Spec, margin_t: Tensor, n_lse: int,
                    need_m: bool, need_feats: bool):
    """The closed-form backward: d (the statistics' gradient) -> (dL/dM (B,), dL/dfeats (3, B, d))."""
    pred, target, rows, norm, denom, exp, sums, weights, margin_in, row_weights, kappa = saved
    batch = pred.numel()
    d_m = torch.sign(pred - target) * d[n_lse + 9] if need_m else None
    if not need_feats:
        return d_m, None
    d_lse, d_psum = d[:n_lse], d[n_lse:n_lse + 9]
    if margin_in is not None:
        d_psum = torch.addmv(d_psum, margin_t, d[n_lse + 10:] * (margin_in > 0))  # ReLU'
    if row_weights is None:
        ratio = d_lse.view(3, batch, 3) / sums.view(3, batch, 3)
    else:
        ratio = (d_lse.view(3, 1, 3) * row_weights.view(1, batch, 1)) / sums.view(3, batch, 3)
        d_psum = d_psum - kappa * d_lse
    # dL/d(S_ab,ij / T) = r_aib exp_ab,ij + P'_ij d psum_ab with r = d lse / row sum. The
    # gradient of logits = rows rowsᵀ is (D + Dᵀ) rows, and with exp symmetric
    # (D + Dᵀ)_(ai)(bj) = exp_(ai)(bj) (r_aib + r_bja) + P'_ij (d psum_ab + d psum_ba).
    exp4 = exp.view(3, batch, 3, batch)
    if spec.unshifted:
        d_sym = (ratio.view(3, batch, 3, 1) + ratio.permute(2, 0, 1).unsqueeze(1)).mul_(exp4)
    else:
        d_half = exp4 * ratio.view(3, batch, 3, 1)
        d_sym = d_half + d_half.view(3 * batch, 3 * batch).t().view(3, batch, 3, batch)
    d_psum = d_psum.view(3, 3)
    d_sym.addcmul_(weights.view(1, batch, 1, batch), (d_psum + d_psum.t()).view(3, 1, 3, 1))
    d_rows = (d_sym.view(3 * batch, 3 * batch) @ rows).view(3, batch, -1)
    rows3 = rows.view(3, batch, -1)
    # F.normalize's backward: (dx - x̂ <x̂, dx>) / |f| where |f| > eps, else dx / eps
    # (x̂ = rows · √T, so <x̂, dx> x̂ = T <rows, dx> rows).
    dot = (rows3 * d_rows).sum(2, keepdim=True) * torch.where(norm > _EPS, spec.temperature, 0.0)
    return d_m, torch.addcmul(d_rows, rows3, dot, value=-1.0) / denom


_COMPILED: dict[str, Any] = {}


def _compiled(name: str):
    """``torch.compile`` of the fused forward / backward maths (built on first use)."""
    fn = _COMPILED.get(name)
    if fn is None:
        target = _fused_forward if name == "forward" else _fused_backward
        fn = _COMPILED[name] = torch.compile(target, dynamic=False)
    return fn


def _float32_only(device: torch.device):
    """Autocast off (the loss is specified in float32) when the caller left it on."""
    if torch.is_autocast_enabled(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


class _FusedAMCCLLoss(torch.autograd.Function):
    """(M, h_t, h_a, h_v, labels, spec, compiled) -> the seven parts of :data:`PARTS`, as one
    autograd node whose backward is :func:`_fused_backward`."""

    @staticmethod
    def forward(ctx, m: Tensor, t: Tensor, a: Tensor, v: Tensor, labels: Tensor, spec: _Spec,
                compiled: bool = False):
        ctx.set_materialize_grads(False)
        consts = spec.constants(t.device, t.size(0))
        forward = _compiled("forward") if compiled else _fused_forward
        with _float32_only(t.device):
            out, saved = forward(m, t, a, v, labels, spec, consts.forward, consts.alpha, consts.margin,
                                 consts.root_t)
        ctx.spec, ctx.consts, ctx.compiled, ctx.m_shape = spec, consts, compiled, m.shape
        ctx.dtypes = (m.dtype, t.dtype, a.dtype, v.dtype)
        ctx.save_for_backward(*saved)
        return out.unbind()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grad_parts):
        consts = ctx.consts
        grads: list[Tensor | None] = [None] * 7
        if all(g is None for g in grad_parts[1:]):
            if grad_parts[0] is None:
                return tuple(grads)
            d = consts.backward_loss * grad_parts[0]
        else:
            zero = consts.alpha.new_zeros(())
            d = consts.backward @ torch.stack([zero if g is None else g for g in grad_parts])
        need = ctx.needs_input_grad
        if not any(need[:4]):
            return tuple(grads)
        backward = _compiled("backward") if ctx.compiled else _fused_backward
        with _float32_only(d.device):
            d_m, d_feats = backward(d, ctx.saved_tensors, ctx.spec, consts.margin_t, consts.n_lse,
                                    need[0], any(need[1:4]))
        if need[0]:
            grads[0] = _cast(d_m.view(ctx.m_shape), ctx.dtypes[0])
        for i in range(3):
            if need[1 + i]:
                grads[1 + i] = _cast(d_feats[i], ctx.dtypes[1 + i])
        return tuple(grads)


def _cast(x: Tensor, dtype: torch.dtype) -> Tensor:
    return x if x.dtype == dtype else x.to(dtype)
