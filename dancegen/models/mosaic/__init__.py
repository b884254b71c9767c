"""DanceMosaic: residual VQ tokens, a masked T2M transformer with music and pose adapters,
multimodal guidance and inference-time token optimisation (see `config.py` for the recipe).

`config` (sizes, presets), `tokenizer` (residual VQ-VAE), `transformer` (T2M, adapters,
residual transformer), `network` (all of them together), `kinematic` (losses through
Gumbel-softmax tokens), `task` (data and the five training stages), `humanml3d` (a
HumanML3D-format loader for pretraining). Generation lives in `dancegen.pipelines.mosaic`.
"""
