"""AAN: adaptive-attention network, a hybrid of convolutional early stages and adaptive-attention
transformer stages on the small token grids (stride 16 and 32: 14x14 and 7x7 at 224x224).

Why this shape: on CPUs and GPUs alike, dense 3x3 convolutions at high resolution and large
matrix multiplies on few tokens run close to peak, while depthwise convolutions and many small
normalisation layers cost far more time than their FLOPs suggest. So the stem is a stack of
stride-2 convolutions (BatchNorm, foldable at inference) with residual 3x3 conv blocks at some of
its scales (`AANConfig.stem_blocks`: the convolutional capacity at stride 4-8 of hybrids such as
CoAtNet; aan_s has one at /4 and one at /8), and the rest is attention + MLP on 14x14 and 7x7 token
grids, where every head's map is small enough to show an inspector.

AANConfig's defaults are the first design (no stem blocks, four blocks at /16): a checkpoint's
recorded config that lacks a newer field means that field's default. The variants below are
today's shapes.

Each attention layer is `core.model.attention.AdaptiveAttention`: a learnable scale alpha per head.

Pooling is a property of the model (`AANConfig.pool`), because it decides what a small dataset can
teach it: a defect covers a few of the last stage's 16-49 tokens, and mean pooling dilutes it
among the background ones (measured in bench/learning.py; see training/README.md):
  "mean"  the average token (the original design; every checkpoint written before `pool` existed)
  "max"   the per-channel maximum over tokens
  "lse"   log-sum-exp with a learned sharpness per channel: between mean (r -> 0) and max
  "attn"  attention pooling (`AttentionPool`): learned per-head queries over the tokens, alpha-scaled,
          captured as an attention layer of its own (the map of what the decision looked at)
The surface follows timm: `forward_features` (the unpooled last-stage map), `forward_head(x,
pre_logits=False)`, `reset_classifier(num_classes)`; nothing outside core/model/ reaches inside.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from core.model.attention import AdaptiveAttention, AlphaAttention, AttentionPool

POOLS = ("mean", "max", "lse", "attn")


@dataclass(frozen=True, kw_only=True, slots=True)
class AANConfig:
    stem_channels: tuple[int, ...] = (16, 24, 48)  # stride-2 convs: /2, /4, /8
    embed_dims: tuple[int, int] = (128, 256)  # attention stages at /16 and /32
    depths: tuple[int, int] = (4, 5)
    num_heads: tuple[int, int] = (4, 8)
    mlp_ratio: float = 2.5
    head_dim: int = 32
    pool: str = "lse"  # measured on the demo data: mean and attention pooling learn nothing from scratch (training/README.md)
    mlp_dwconv: bool = False  # a depthwise 3x3 convolution between the MLP's two layers (local mixing)
    layer_scale: float | None = None  # initial per-channel scale of each residual branch (CaiT); None: off
    # Residual 3x3 conv blocks (`ConvBlock`) after each stem convolution, one count per entry of
    # stem_channels; () or all zeros: none (every checkpoint written before this option existed).
    stem_blocks: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.pool not in POOLS:
            raise ValueError(f"unknown pooling {self.pool!r}; choose one of {', '.join(POOLS)}")
        if len(self.embed_dims) != 2 or len(self.depths) != 2 or len(self.num_heads) != 2:
            raise ValueError("AAN has exactly two attention stages")
        if not self.stem_channels:
            raise ValueError("the stem needs at least one convolution")
        if self.stem_blocks and len(self.stem_blocks) != len(self.stem_channels):
            raise ValueError(f"stem_blocks needs one count per stem convolution ({len(self.stem_channels)}), "
                             f"got {len(self.stem_blocks)}")
        if any(n < 0 for n in self.stem_blocks):
            raise ValueError("stem_blocks counts cannot be negative")

    @property
    def stride(self) -> int:
        return 2 ** (len(self.stem_channels) + 2)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "AANConfig":
        """From `to_dict` output (JSON turns tuples into lists); unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown model setting {unknown[0]!r}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def conv_bn_act(cin: int, cout: int, stride: int, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.GELU())
    return nn.Sequential(*layers)


class ConvBlock(nn.Module):
    """ResNet's basic block: x + BN(conv3x3(GELU(BN(conv3x3(x))))), identity shortcut.

    Dense 3x3 convolutions at stride 4-8 are the local capacity that small defects need ("early
    convolutions help transformers", Xiao et al. 2021; CoAtNet's C-C-T-T) and run close to peak on
    CPUs and GPUs, unlike depthwise ones. No activation after the sum (He et al. 2016, "Identity
    mappings") and the last BatchNorm's scale starts at zero (Goyal et al. 2017): a new block starts
    as the identity, so the network starts as the same network without it."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv1 = conv_bn_act(dim, dim, 1)
        self.conv2 = conv_bn_act(dim, dim, 1, act=False)
        nn.init.zeros_(self.conv2[1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


def stem_scale(cin: int, cout: int, blocks: int) -> nn.Sequential:
    """One scale of the stem: a stride-2 conv-BN-GELU, then `blocks` ConvBlocks at its resolution
    (appended, so a stem without blocks keeps the state_dict keys of every earlier checkpoint)."""
    layers = conv_bn_act(cin, cout, 2)
    for _ in range(blocks):
        layers.append(ConvBlock(cout))
    return layers


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, dwconv: bool = False):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden) if dwconv else None
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        x = self.fc1(x)
        if self.dwconv is not None:
            b, n, c = x.shape
            x = x + self.dwconv(x.transpose(1, 2).reshape(b, c, *grid)).flatten(2).transpose(1, 2)
        return self.fc2(self.act(x))


class Block(nn.Module):
    """Pre-norm transformer block with adaptive attention."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, mlp_ratio: float, dwconv: bool = False,
                 layer_scale: float | None = None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = AdaptiveAttention(dim, num_heads, head_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dwconv)
        if layer_scale is not None:
            self.gamma1 = nn.Parameter(torch.full((dim,), float(layer_scale)))
            self.gamma2 = nn.Parameter(torch.full((dim,), float(layer_scale)))
        else:
            self.gamma1 = self.gamma2 = None

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        a = self.attn(self.norm1(x), grid)
        x = x + (a if self.gamma1 is None else self.gamma1 * a)
        m = self.mlp(self.norm2(x), grid)
        return x + (m if self.gamma2 is None else self.gamma2 * m)


class Stage(nn.Module):
    """Stride-2 convolutional downsample, a convolutional position encoding, then attention blocks."""

    def __init__(self, cin: int, dim: int, depth: int, num_heads: int, head_dim: int, mlp_ratio: float,
                 dwconv: bool = False, layer_scale: float | None = None):
        super().__init__()
        self.downsample = conv_bn_act(cin, dim, 2, act=False)
        # Depthwise 3x3 position encoding: tells attention where tokens are, for any input size.
        self.pos = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)
        self.blocks = nn.ModuleList(Block(dim, num_heads, head_dim, mlp_ratio, dwconv, layer_scale) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        x = x + self.pos(x)
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        for blk in self.blocks:
            t = blk(t, (h, w))
        return t.transpose(1, 2).reshape(b, c, h, w)


class AAN(nn.Module):
    def __init__(self, config: AANConfig, num_classes: int, in_chans: int = 3):
        super().__init__()
        self.config = config
        self.num_classes = num_classes
        self.in_chans = in_chans
        chans = (in_chans, *config.stem_channels)
        blocks = config.stem_blocks or (0,) * len(config.stem_channels)
        self.stem = nn.Sequential(*(stem_scale(a, b, n) for a, b, n in zip(chans, chans[1:], blocks)))
        d0, d1 = config.embed_dims
        self.stages = nn.ModuleList(
            [
                Stage(chans[-1], d0, config.depths[0], config.num_heads[0], config.head_dim, config.mlp_ratio,
                      config.mlp_dwconv, config.layer_scale),
                Stage(d0, d1, config.depths[1], config.num_heads[1], config.head_dim, config.mlp_ratio,
                      config.mlp_dwconv, config.layer_scale),
            ]
        )
        self.norm = nn.LayerNorm(d1)
        self.num_features = d1
        if config.pool == "attn":
            self.pool = AttentionPool(d1, config.num_heads[1])
        elif config.pool == "lse":
            # log r per channel; r = 4 at the start, close to max pooling on LayerNorm-scale features
            # (mean-like pooling dilutes a defect among the background tokens and learns nothing).
            self.pool_sharpness = nn.Parameter(torch.full((d1,), math.log(4.0)))
        self.head = nn.Linear(d1, num_classes)
        self.apply(_init_weights)

    def attention_modules(self) -> list[AlphaAttention]:
        """Every alpha-scaled attention layer, in forward order (the pooling one last, if any)."""
        layers: list[AlphaAttention] = [blk.attn for stage in self.stages for blk in stage.blocks]
        return layers + ([self.pool] if self.config.pool == "attn" else [])

    def alphas(self) -> list[torch.Tensor]:
        """One 1-D tensor per attention layer, one alpha per head (the live parameters)."""
        return [m.alpha for m in self.attention_modules()]

    def stem_modules(self) -> nn.Module:
        """The convolutional stem (what `freeze_stem` freezes)."""
        return self.stem

    def classifier_modules(self) -> list[nn.Module]:
        """What a new class list replaces: the linear head (pooling and norm are kept)."""
        return [self.head]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, num_features, H/32, W/32) last-stage map, unpooled."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool the last-stage map, then classify (`pre_logits`: the pooled features instead)."""
        pool = self.config.pool
        if pool == "mean":
            feats = self.norm(x.mean(dim=(2, 3)))
        elif pool == "max":
            feats = self.norm(x.amax(dim=(2, 3)))
        elif pool == "lse":
            feats = self.norm(_lse_pool(x.flatten(2), self.pool_sharpness.exp()))
        else:
            b, c, h, w = x.shape
            feats = self.pool(self.norm(x.flatten(2).transpose(1, 2)), (h, w))
        return feats if pre_logits else self.head(feats)

    def adapt_input_channels(self, in_chans: int) -> None:
        """Take `in_chans` (1 or 3) channels with the same first-layer filters: gray from RGB sums the
        colour filters (a gray pixel is about the mean of its channels), RGB from gray shares one."""
        conv = self.stem[0][0]
        if in_chans == conv.in_channels:
            return
        if in_chans not in (1, 3):
            raise ValueError("in_chans must be 1 (grayscale) or 3 (RGB)")
        w = conv.weight.detach()
        w = w.sum(1, keepdim=True) if in_chans == 1 else w.repeat(1, in_chans, 1, 1) / in_chans
        new = nn.Conv2d(in_chans, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=False)
        new.weight.data.copy_(w)
        self.stem[0][0] = new
        self.in_chans = in_chans

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh linear head for `num_classes` (same features, new class list)."""
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes)
        _init_weights(self.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _lse_pool(f: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """(B, C, N) -> (B, C): (1/r) log mean exp(r f) per channel; mean as r -> 0, max as r grows."""
    r = r.view(1, -1, 1).to(f.dtype)
    top = f.amax(dim=2, keepdim=True)
    return (top + torch.log(torch.exp(r * (f - top)).mean(dim=2, keepdim=True)) / r).squeeze(2)


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)


VARIANTS: dict[str, AANConfig] = {
    # 4.19 M parameters, 0.317 GMACs at 224x224 with 1000 classes, attention's products included.
    # Convolution blocks at /4 and /8 (stem_blocks) pay for two of the first design's four /16
    # attention blocks, which cost 0.356 GMACs once the counter saw the CPU attention kernel; the
    # second stage widens to keep the parameters (measured in bench/learning.py: training/README.md).
    "aan_s": AANConfig(stem_channels=(16, 24, 40), stem_blocks=(0, 1, 1), embed_dims=(96, 280), depths=(2, 5),
                       num_heads=(3, 8)),
    # For tests and quick experiments on 2 CPU cores.
    "aan_t": AANConfig(stem_channels=(8, 16, 32), embed_dims=(64, 128), depths=(1, 1), num_heads=(2, 4), mlp_ratio=2.0),
}
