"""Attention evidence for one image: what each head looks at, how much it matters, and what
happens without it.

One forward pass under `core.model.capture_attention` gives every layer's attention probabilities
A_i (heads, N, N). A forward pre-hook on each attention layer's output projection W^O sees
Concat(alpha_i * A_i V_i) exactly as the model computes it, so head contributions need no second
pass and no change to core.model. A model with attention pooling has one more layer, last: one
learned query per head over the last grid (heads, 1, N), whose alpha-scaled output goes straight
to the classifier; its map is what the decision looked at.

Rollout (Abnar & Zuidema 2020) with adaptive heads: per layer the heads are fused with weights
|alpha_i| (a head the model scaled down counts less), the identity is added for the residual path,
rows are renormalised, and layers are multiplied through. Where the grid shrinks (14x14 -> 7x7 at
224 px), each coarse token is taken to be the average of the fine tokens whose centres it covers,
a (N_coarse x N_fine) matrix inserted in the product; the rollout therefore ends on the finest
attention grid, the sharper of the two. It ends with what the classifier pools: the attention
pooling's fused row (no residual path: the pooled vector is that weighted sum), or, for models
that pool otherwise, the mean over the last tokens.

An `AttentionExplainer` serialises its forward passes with a lock: ablation changes alphas in place
and must never overlap another thread's pass.
"""
from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from core.inference.preprocess import Preprocess
from core.model.attention import AttentionPool
from core.model.capture import attention_layers, capture_attention

if TYPE_CHECKING:
    from core.model.checkpoint import CheckpointMeta


@dataclass
class LayerEvidence:
    layer: int
    name: str
    grid: tuple[int, int]  # token grid (h, w)
    attention: np.ndarray  # (heads, N, N) float32, rows (queries) sum to 1
    received: np.ndarray  # (heads, h, w): mean attention each location receives (column mean)
    alpha: np.ndarray  # (heads,)
    contribution: np.ndarray  # (heads,): mean over tokens of ||alpha_i (A_i V_i)[n]||
    contribution_out: np.ndarray  # (heads,): same after the head's slice of W^O (what reaches the residual)
    entropy: np.ndarray  # (heads,): mean over queries of the attention entropy, nats

    @property
    def num_heads(self) -> int:
        return self.attention.shape[0]

    @property
    def is_pooling(self) -> bool:
        """The classifier's attention pooling: one learned query per head, not one per token."""
        return self.attention.shape[1] == 1 and self.attention.shape[2] > 1


@dataclass
class ImageEvidence:
    probs: np.ndarray  # (classes,)
    class_names: list[str]
    image_size: tuple[int, int]  # (H, W) of the analysed image
    input_size: int
    layers: list[LayerEvidence]

    @property
    def alphas(self) -> list[np.ndarray]:
        return [layer.alpha for layer in self.layers]

    @property
    def contributions(self) -> list[np.ndarray]:
        return [layer.contribution for layer in self.layers]

    @property
    def predicted(self) -> int:
        return int(self.probs.argmax())


class AttentionExplainer:
    def __init__(self, model: nn.Module, meta: CheckpointMeta):
        self.model = model.eval()
        self.meta = meta
        self.pre = Preprocess.from_meta(meta)
        self._attn = [m for _, m in attention_layers(model)]
        self._names = [n for n, _ in attention_layers(model)]
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def analyse(self, image: np.ndarray) -> ImageEvidence:
        """One forward pass: probabilities, and per layer attention, received maps, contributions."""
        x = self.pre.tensor(image, self.device)
        heads_in: dict[int, torch.Tensor] = {}

        def keep(i: int):
            def hook(_module: nn.Module, args: tuple) -> None:
                heads_in[i] = args[0].detach()
            return hook

        def keep_pooled(i: int):
            def hook(_module: nn.Module, _args: tuple, out: torch.Tensor) -> None:
                heads_in[i] = out.detach()
            return hook

        with self._lock, ExitStack() as stack, torch.inference_mode():
            for i, m in enumerate(self._attn):
                if isinstance(m, AttentionPool):
                    stack.callback(m.register_forward_hook(keep_pooled(i)).remove)
                else:
                    stack.callback(m.proj.register_forward_pre_hook(keep(i)).remove)
            cap = stack.enter_context(capture_attention(self.model))
            probs = self.model(x).float().softmax(dim=-1)[0]
            layers = [self._layer_evidence(rec, heads_in[rec.layer]) for rec in cap.layers]
        return ImageEvidence(
            probs=probs.cpu().numpy(),
            class_names=list(self.meta.class_names),
            image_size=(int(image.shape[0]), int(image.shape[1])),
            input_size=self.pre.input_size,
            layers=layers,
        )

    def _layer_evidence(self, rec, heads_in: torch.Tensor) -> LayerEvidence:
        m = self._attn[rec.layer]
        a = rec.probs[0].float()  # (heads, Nq, N): Nq = N, or 1 for attention pooling
        nh, nq, n = a.shape
        h, w = rec.grid
        per_head = heads_in[0].float().view(nq, nh, m.head_dim).transpose(0, 1)  # (heads, Nq, hd)
        # What each head's output passes through next: W^O, or for the pooling the classifier.
        after = self.model.head.weight if isinstance(m, AttentionPool) else m.proj.weight
        w_out = after.float().view(-1, nh, m.head_dim).transpose(0, 1)  # (heads, out, hd)
        out = per_head @ w_out.transpose(1, 2)  # (heads, N, dim)
        entropy = -(a * a.clamp_min(1e-12).log()).sum(-1).mean(-1)
        return LayerEvidence(
            layer=rec.layer,
            name=rec.name,
            grid=(h, w),
            attention=a.cpu().numpy(),
            received=a.mean(dim=1).view(nh, h, w).cpu().numpy(),
            alpha=m.alpha.detach().float().cpu().numpy().copy(),
            contribution=per_head.norm(dim=-1).mean(-1).cpu().numpy(),
            contribution_out=out.norm(dim=-1).mean(-1).cpu().numpy(),
            entropy=entropy.cpu().numpy(),
        )

    def query_map(self, evidence: ImageEvidence, layer: int, y: float, x: float) -> np.ndarray:
        """(heads, h, w): where the token under image pixel (y, x) looks, on that layer's grid (the
        attention pooling has one query per head, wherever the click is)."""
        le = evidence.layers[layer]
        q = 0 if le.is_pooling else token_index(le.grid, evidence.image_size, y, x)
        h, w = le.grid
        return le.attention[:, q, :].reshape(le.num_heads, h, w)

    def rollout(self, evidence: ImageEvidence) -> np.ndarray:
        return attention_rollout(evidence.layers)

    def relevance(self, image: np.ndarray, target: int | None = None) -> np.ndarray:
        """Gradient-weighted relevance for class `target` (default: predicted), first grid (h, w)."""
        from core.inference.attribution import relevance

        with self._lock:
            return relevance(self.model, self.pre.tensor(image, self.device), target).map

    def ablate(self, image: np.ndarray, heads_off: set[tuple[int, int]]) -> np.ndarray:
        """Class probabilities with the given (layer, head) pairs switched off (alpha = 0).

        Alphas are restored bit for bit in a finally block. The pass runs on the same (explicit
        softmax) path as `analyse`, so `ablate(img, set())` equals `analyse(img).probs` exactly.
        """
        for layer, head in heads_off:
            if not (0 <= layer < len(self._attn) and 0 <= head < self._attn[layer].num_heads):
                raise ValueError(f"no head {head} in layer {layer}")
        x = self.pre.tensor(image, self.device)
        with self._lock, torch.no_grad():
            saved = {layer: self._attn[layer].alpha.detach().clone() for layer, _ in heads_off}
            try:
                for layer, head in heads_off:
                    self._attn[layer].alpha[head] = 0.0
                with torch.inference_mode(), capture_attention(self.model):
                    probs = self.model(x).float().softmax(dim=-1)[0]
            finally:
                for layer, alpha in saved.items():
                    self._attn[layer].alpha.copy_(alpha)
        return probs.cpu().numpy()


def token_index(grid: tuple[int, int], image_size: tuple[int, int], y: float, x: float) -> int:
    """Index of the token whose cell holds image pixel (y, x); the whole image maps onto the grid."""
    h, w = grid
    big_h, big_w = image_size
    ty = min(max(int(y * h / big_h), 0), h - 1)
    tx = min(max(int(x * w / big_w), 0), w - 1)
    return ty * w + tx


def coarsen_matrix(fine: tuple[int, int], coarse: tuple[int, int]) -> np.ndarray:
    """(N_coarse, N_fine): row c averages the fine tokens whose centres fall in coarse cell c."""
    fh, fw = fine
    ch, cw = coarse
    cy = np.minimum(((np.arange(fh) + 0.5) * ch / fh).astype(int), ch - 1)
    cx = np.minimum(((np.arange(fw) + 0.5) * cw / fw).astype(int), cw - 1)
    parent = (cy[:, None] * cw + cx[None, :]).ravel()
    p = np.zeros((ch * cw, fh * fw))
    p[parent, np.arange(fh * fw)] = 1.0
    return p / np.clip(p.sum(axis=1, keepdims=True), 1.0, None)


@dataclass(frozen=True)
class RolloutLayer:
    """What rollout needs of a layer (LayerEvidence has the same fields)."""
    attention: np.ndarray  # (heads, Nq, N)
    alpha: np.ndarray  # (heads,): the weights the heads are fused with
    grid: tuple[int, int]

    @property
    def is_pooling(self) -> bool:
        return self.attention.shape[1] == 1 and self.attention.shape[2] > 1


def attention_rollout(layers: list[LayerEvidence] | list[RolloutLayer]) -> np.ndarray:
    """Rollout map on the first (finest) attention grid, (h0, w0), sums to 1."""
    if not layers:
        raise ValueError("no attention layers")
    r = None
    grid = layers[0].grid
    pooled = None
    for le in layers:
        if le.grid != grid:
            r = coarsen_matrix(grid, le.grid) @ r
            grid = le.grid
        weights = np.abs(le.alpha.astype(np.float64))
        nq, n = le.attention.shape[-2:]
        if weights.sum() > 0:
            fused = np.tensordot(weights / weights.sum(), le.attention.astype(np.float64), axes=1)
        else:  # every head switched off: only the residual path carries information
            fused = np.zeros((nq, n)) if le.is_pooling else np.zeros((n, n))
        if le.is_pooling:  # no residual path around the pooling: the pooled vector is this sum
            pooled = fused[0] if fused.sum() > 0 else np.full(n, 1.0 / n)
            continue
        a = fused + np.eye(n)
        a /= a.sum(axis=1, keepdims=True)
        r = a if r is None else a @ r
    if r is None:  # pooling only (no blocks): its own map
        return pooled.reshape(layers[0].grid)
    out = pooled @ r if pooled is not None else r.mean(axis=0)
    return out.reshape(layers[0].grid)
