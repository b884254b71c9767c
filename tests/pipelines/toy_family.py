"""A toy fourth model family, written the way a plugin would be: a config, a two-stage task
and a pipeline, registered with one call. It touches no shared code.

The "model" maps music features frame by frame to smpl6d pose features through two linear
layers; stage "encoder" trains the first, stage "decoder" the second. Its data is synthetic:
the pose is a fixed linear function of the music, so the loss can fall to zero.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from dancegen.bundle import BundleHeader, ModelBundle
from dancegen.config import FamilyConfig, StrictConfig, config_to_dict
from dancegen.families import Capabilities, Family, Stage
from dancegen.motion.codecs import get_codec
from dancegen.pipelines.base import DancePipeline
from dancegen.skeleton import smpl24

MUSIC_DIM, POSE_DIM, FPS = 8, 151, 30.0


class ToySettings(StrictConfig):
    hidden: int = 16
    encoder_steps: int = 20
    decoder_steps: int = 20
    clips: int = 64
    frames: int = 8


class ToyConfig(FamilyConfig):
    family: Literal["toy"] = "toy"
    toy: ToySettings = ToySettings()
    modalities = ("music",)


class ToyModule(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.encoder, self.decoder = nn.Linear(MUSIC_DIM, hidden), nn.Linear(hidden, POSE_DIM)

    def forward(self, batch, generator=None, stage=None):
        music, pose = batch
        return {"mse": (self.decoder(torch.tanh(self.encoder(music))) - pose).pow(2).mean()}


class PlainSum:
    uses_jacobians = False

    def backward(self, losses, parameters, backward=None):
        (backward or torch.Tensor.backward)(sum(losses.values()))
        return dict.fromkeys(losses, 1.0)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class ToyTask:
    def __init__(self, config: ToyConfig):
        self.config = config

    def prepare(self, resumed, progress):
        rng = np.random.default_rng(0)
        music = rng.normal(size=(self.config.toy.clips, self.config.toy.frames, MUSIC_DIM)).astype(np.float32)
        mixing = rng.normal(size=(MUSIC_DIM, POSE_DIM)).astype(np.float32) * 0.1
        self.data = TensorDataset(torch.from_numpy(music), torch.from_numpy(music @ mixing))

    def stages(self):
        toy = self.config.toy
        return [Stage("encoder", toy.encoder_steps, trainable=lambda m: m.encoder.parameters()),
                Stage("decoder", toy.decoder_steps, trainable=lambda m: m.decoder.parameters())]

    def dataset(self, stage):
        return self.data

    def build_module(self):
        return ToyModule(self.config.toy.hidden)

    def combiner(self, stage, module):
        return PlainSum()

    def assets(self):
        return {}

    def bundle(self, module, step):
        header = BundleHeader(family="toy", name=self.config.train.model_name or "toy-model", config=config_to_dict(self.config),
                              skeleton="smpl24", fps=FPS, supports=TOY.supports.as_dict(), modalities=["music"],
                              training={"steps": step})
        return ModelBundle(header, {"module": {k: v.detach().clone() for k, v in module.state_dict().items()}})


class ToyPipeline(DancePipeline):
    def __init__(self, header, module):
        self.header, self.module = header, module.eval()
        self.codec = get_codec("smpl6d", smpl24())

    @classmethod
    def from_bundle(cls, bundle, device="cpu"):
        module = ToyModule(ToyConfig.model_validate(bundle.header.config).toy.hidden)
        module.load_state_dict(bundle.component("module"))
        return cls(bundle.header, module)

    @torch.inference_mode()
    def generate(self, request, progress=False):
        seed = 0 if request.seed is None else request.seed
        music = torch.randn(request.frames, MUSIC_DIM, generator=torch.Generator().manual_seed(seed))
        pose = self.module.decoder(torch.tanh(self.module.encoder(music))).double().numpy()
        pose[:, 4:7] = [0.0, 0.9, 0.0]  # root height of a standing figure
        pose[:, 7:] += np.tile([1.0, 0, 0, 0, 1.0, 0], 24)  # around the rest pose, so every 6D rotation is valid
        return self.codec.decode(pose, self.fps)


TOY = Family("toy", "a test family", config=ToyConfig, pipeline=ToyPipeline, task=ToyTask,
             supports=Capabilities(long_form=True))
