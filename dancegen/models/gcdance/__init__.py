"""GCDance (Liu et al. 2025): genre-controlled full-body dance diffusion.

`config` (typed settings and the small/paper presets), `network` (the denoiser), `losses`
(training objectives), `task` (data, module and stage for the shared training loop); the
pipeline is `dancegen.pipelines.gcdance`. Importing this package loads nothing heavy.
"""
