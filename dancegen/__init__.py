"""dancegen: music- and text-driven 3D dance generation.

    from dancegen import load_pipeline, Motion
    motion = load_pipeline("gcdance-small")("song.wav", prompt="smooth salsa steps", seed=0)
    motion.save_npz("dance.npz")

Names are imported on first use, so `import dancegen` (and the CLI's start-up) stays light.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "load_pipeline": "dancegen.pipelines",
    "GenerationRequest": "dancegen.pipelines.request",
    "Motion": "dancegen.motion.motion",
    "load_motion": "dancegen.motion.io",
    "save_motion": "dancegen.motion.io",
    "export_motion": "dancegen.export",
    "load_bundle": "dancegen.bundle",
    "read_header": "dancegen.bundle",
    "families": "dancegen.families",
    "register_family": "dancegen.families",
    "available_models": "dancegen.catalog",
}
__all__ = ["__version__", *_EXPORTS]

from dancegen.lazy import lazy_attributes  # noqa: E402

__getattr__ = lazy_attributes(globals(), _EXPORTS)
