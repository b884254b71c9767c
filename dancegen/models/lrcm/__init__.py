"""LRCM ("Listen to Rhythm, Choose Movements", Duan et al.): an LDA-style residual denoiser with
an audio Conformer, a text cross-Conformer (global style + timed local moves) and a
bidirectional Mamba memory (MTMM) that carries motion from one segment of a song to the next."""
