"""The residual VQ-VAE tokenizer: shapes, round trips, layer-by-layer refinement, codebook reports."""

from __future__ import annotations

import numpy as np
import torch
from mosaic_fixtures import synthetic_data

from dancegen.models.mosaic.config import TokenizerConfig
from dancegen.models.mosaic.kinematic import TokenMotion
from dancegen.models.mosaic.tokenizer import MotionTokenizer, codebook_usage, reconstruction_mpjpe_mm
from dancegen.motion.codecs import get_codec
from dancegen.skeleton import smpl24

CONFIG = TokenizerConfig(width=48, depth=1, codebook_size=32, code_dim=16, num_quantizers=4, quantize_dropout=0.5)


def windows(data, length: int = 32) -> torch.Tensor:
    return torch.stack([torch.from_numpy(m[start : start + length]) for m in data.motion for start in (0, 24, 48)])


def trained_tokenizer(features: torch.Tensor, steps: int) -> tuple[MotionTokenizer, list[float]]:
    torch.manual_seed(0)
    tokenizer = MotionTokenizer(features.shape[-1], CONFIG)
    optimiser = torch.optim.Adam(tokenizer.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        out = tokenizer(features, generator)
        loss = out.losses["reconstruction"] + out.losses["commitment"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(out.losses["reconstruction"].detach()))
    return tokenizer.eval(), losses


def test_shapes_and_padding_to_the_token_rate():
    tokenizer = MotionTokenizer(263, CONFIG).eval()
    features = torch.randn(2, 30, 263)  # 30 frames: 8 tokens, the last two frames padded
    codes = tokenizer.encode(features)
    assert codes.shape == (2, 8, 4) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < CONFIG.codebook_size
    assert tokenizer.decode(codes, frames=30).shape == (2, 30, 263)
    out = tokenizer(features)
    assert out.reconstruction.shape == (2, 30, 263) and set(out.losses) == {"reconstruction", "commitment"}
    assert tokenizer.codebooks.shape == (4, 32, 16)


def test_training_improves_reconstruction_and_layers_refine_it(mosaic_data):
    features = windows(mosaic_data)
    untrained, _ = trained_tokenizer(features, 0)
    tokenizer, losses = trained_tokenizer(features, 300)
    positions = TokenMotion(get_codec("hml263", smpl24()), torch.from_numpy(mosaic_data.motion_normalizer.shift),
                            torch.from_numpy(mosaic_data.motion_normalizer.scale)).feature_positions
    codes = tokenizer.encode(features)
    before = reconstruction_mpjpe_mm(positions, features, untrained.decode(untrained.encode(features), 32))
    after = reconstruction_mpjpe_mm(positions, features, tokenizer.decode(codes, 32))
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10])
    assert after < 0.7 * before, (before, after)
    # Quantising with the first k layers: the error falls with every layer added.
    with torch.no_grad():
        latent = tokenizer.latent(features)
        residuals = [float((tokenizer.embed(codes[..., :k]) - latent).norm(dim=-1).mean()) for k in range(1, 5)]
        errors = [float((tokenizer.decode(codes[..., :k], 32) - features).abs().mean()) for k in range(1, 5)]
    assert all(later < earlier for earlier, later in zip(residuals, residuals[1:])), residuals
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert min(codebook_usage(codes, CONFIG.codebook_size)) > 0.5  # dead codes were reset, not left


def test_codebook_usage_is_reported_per_layer():
    codes = torch.tensor([[[0, 1], [0, 2], [3, 2]]])  # layer 0 uses {0, 3}, layer 1 {1, 2}
    assert codebook_usage(codes, 8) == [0.25, 0.25]


def test_encode_leaves_the_codebooks_alone(mosaic_data):
    tokenizer = MotionTokenizer(263, CONFIG).train()
    before = tokenizer.codebooks.clone()
    tokenizer.encode(windows(mosaic_data))
    assert torch.equal(tokenizer.codebooks, before)
    tokenizer(windows(mosaic_data))  # a training pass moves them (EMA)
    assert not torch.equal(tokenizer.codebooks, before)


def test_synthetic_features_round_trip_through_the_codec():
    data = synthetic_data(clips=1, frames=40)
    codec = get_codec("hml263", smpl24())
    raw = data.motion_normalizer.inverse(data.motion[0].astype(np.float64))
    motion = codec.decode(raw, 30.0)
    assert motion.skeleton.name == "smpl24" and motion.num_frames == 40
    assert np.allclose(codec.encode(motion), raw, atol=1e-3)
