"""Exponential moving average of a model's weights (the weights generation uses).

shadow ← d · shadow + (1 − d) · weights after every optimizer step, with EDGE's d = 0.9999. With
`warmup` the decay ramps up as min(d, (1 + n) / (10 + n)) over the first updates (the schedule
of TensorFlow's ExponentialMovingAverage with num_updates), so short runs are not stuck near
their random initialisation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float = 0.9999, warmup: bool = True):
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        weight = 1.0 - self.current_decay()
        for shadow, current in zip(self.model.parameters(), model.parameters()):
            shadow.lerp_(current.detach().to(shadow.dtype), weight)
        for shadow, current in zip(self.model.buffers(), model.buffers()):
            shadow.copy_(current)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"decay": self.decay, "warmup": self.warmup, "updates": self.updates, "weights": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.warmup, self.updates = float(state["decay"]), bool(state["warmup"]), int(state["updates"])
        self.model.load_state_dict(state["weights"])
