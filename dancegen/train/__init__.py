"""Training: the one loop every family trains with (`loop`), EMA weights (`ema`) and training
checkpoints that load with `weights_only=True` (`checkpoint`). A family's data, components and
stages come from its task (`dancegen.families.TrainingTask`)."""
