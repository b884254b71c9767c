"""Denoising networks of the model families and the blocks they share.

Networks map noisy features, a timestep and conditions to a prediction; they know nothing of
noise schedules, sampling or files (those live in `dancegen.sampling` and `dancegen.train`).
"""
