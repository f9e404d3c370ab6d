"""Random affine augmentation of a whole batch at once, a different transform per image.

torchvision's RandomAffine draws one transform per call, so a batch would move as one; looping
over images costs ~10 s per MNIST epoch. Here the per-image matrices go to `affine_grid` and
`grid_sample` in one call (~0.3 s per epoch), with torchvision's parameter ranges.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dl101.errors import ConfigError


class BatchRandomAffine(nn.Module):
    def __init__(
        self,
        degrees: float = 0.0,
        translate: tuple[float, float] = (0.0, 0.0),
        scale: tuple[float, float] = (1.0, 1.0),
        fill: float = 0.0,
    ):
        super().__init__()
        if degrees < 0 or not 0 < scale[0] <= scale[1] or not all(0 <= t <= 1 for t in translate):
            raise ConfigError(
                f"augment: degrees={degrees}, translate={list(translate)}, scale={list(scale)}: "
                "need degrees >= 0, translate fractions in [0, 1], 0 < scale[0] <= scale[1]"
            )
        self.degrees, self.translate, self.scale, self.fill = degrees, translate, scale, fill

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, H, W) -> the same shape, each image rotated, shifted and scaled at random."""
        n = len(x)

        def uniform(low: float, high: float) -> Tensor:
            return torch.empty(n, device=x.device).uniform_(low, high)

        angle = uniform(-self.degrees, self.degrees) * math.pi / 180
        scale = uniform(*self.scale)
        # Shifts as fractions of the image; affine_grid's coordinates span 2 per image side.
        shift = torch.stack([uniform(-t, t) * 2 for t in self.translate], dim=1)  # (B, 2)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        # theta maps output coordinates to input ones: the inverse of scale * rotation + shift.
        inverse = torch.stack(
            [torch.stack([cos, sin], 1), torch.stack([-sin, cos], 1)], 1
        )  # (B, 2, 2)
        offset = -(inverse @ shift.unsqueeze(2))  # (B, 2, 1)
        theta = torch.cat([inverse, offset], dim=2).to(x.dtype)  # (B, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        # grid_sample fills with 0 outside the image: shift so that 0 is the fill value.
        return F.grid_sample(x - self.fill, grid, align_corners=False) + self.fill
