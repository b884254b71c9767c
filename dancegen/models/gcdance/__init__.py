"""GCDance (Liu et al. 2025): genre-controlled full-body dance diffusion."""

from dancegen.models.gcdance.config import GCDanceConfig, paper_config, small_config
from dancegen.models.gcdance.network import MODALITIES, GCDanceNetwork

__all__ = ["GCDanceConfig", "GCDanceNetwork", "MODALITIES", "paper_config", "small_config"]
