"""`dancegen train`: train any family's model from a config file plus `section.key=value` overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from dancegen.cli.options import JsonOption, Output, QuietOption, quietable


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("train")
    @quietable
    def train_command(
        overrides: Optional[list[str]] = typer.Argument(
            None, help="Config overrides such as train.max_steps=2000 data.root=/data/finedance.", show_default=False
        ),
        config: Optional[Path] = typer.Option(
            None, "--config", "-c", help="YAML config (configs/gcdance_small.yaml, ...); its `family` picks the model."
        ),
        resume: Optional[Path] = typer.Option(None, "--resume", help="Continue from a run's last.ckpt."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (overrides train.out_dir)."),
        quiet: QuietOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Train a model; writes config.yaml, metrics.jsonl, last.ckpt and model.pt.

        With --resume and no --config, the run continues with the config stored in the checkpoint.
        """
        # Before torch loads: OpenMP threads that spin-wait collapse throughput when the cores
        # are shared (10x slower generation measured on a busy 2-core machine).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from dancegen.config import apply_overrides
        from dancegen.families import family_config, load_family_config

        settings = list(overrides or [])
        if out is not None:
            settings.append(f"train.out_dir={out}")
        if resume is not None and config is None:
            from dancegen.train.checkpoint import load_training_checkpoint

            run_config = family_config(apply_overrides(load_training_checkpoint(resume)["config"], settings), str(resume))
        else:
            run_config = load_family_config(config, settings)
        from dancegen.train.loop import train

        output = Output(quiet, as_json)
        result = train(run_config, resume=resume, progress=output.chatty)
        last = result.history[-1] if result.history else {}
        summary = {
            "family": run_config.family,
            "steps": result.step,
            "out_dir": str(result.out_dir),
            "model": str(result.out_dir / "model.pt"),
            "checkpoint": str(result.out_dir / "last.ckpt"),
            "last_losses": {k: v for k, v in last.items()
                            if isinstance(v, float) and not k.startswith("weight_") and k != "lr"},
        }
        losses = ", ".join(f"{k} {v:.4g}" for k, v in summary["last_losses"].items())
        output.result(summary, f"trained {result.step} steps; model: {summary['model']}" + (f" ({losses})" if losses else ""))
