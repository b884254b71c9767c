"""The one training loop: any family's task, stage by stage, on Lightning Fabric.

    result = train(load_family_config("configs/gcdance_small.yaml", ["data.root=paired/"]))

The family's task (`dancegen.families.TrainingTask`) supplies the data, one module holding
every component, the ordered stages (which parameters each trains, for how long, at what
rate) and the bundle. The loop supplies the rest, the same for every family: devices (CPU,
GPU, DDP, nodes through Fabric), AdamW with warm-up, gradient clipping, EMA weights, logs,
checkpoints and exact resumption.

Exact resumption: every random draw comes from state that the checkpoint carries (the global
torch RNG for dropout and initialisation, one generator for noise/timesteps/condition
dropout, and a batch order that is a pure function of (seed, stage, epoch)), so a run resumed
from `last.ckpt` takes the same next step as the uninterrupted run would have. Stage
boundaries are checkpointed, so a run stopped between stages resumes into the next one.

Outputs in `train.out_dir`: `config.yaml`; `metrics.jsonl` (every loss term and weight every
`log_every` steps; on resume it is cut back to the checkpoint's step, so no step appears
twice); `last.ckpt` (the full training state) and `model.pt` (the EMA weights as the family's
inference bundle), both rewritten atomically every `checkpoint_every` steps and at the end of
every stage.
"""

from __future__ import annotations

import json
import math
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from dancegen.bundle import save_bundle
from dancegen.config import FamilyConfig, config_to_dict
from dancegen.errors import ArgumentError, InputFileError
from dancegen.families import Stage, TrainingTask, get_family
from dancegen.fileio import atomic_write_text
from dancegen.train.checkpoint import load_training_checkpoint, save_training_checkpoint
from dancegen.train.ema import EMA

Tensor = torch.Tensor

# torchjd differentiates through vmap; these ops have no batching rule yet and fall back to a
# loop (correct, just slower), and cvxpy notes that Nash-MTL's problem is not DPP. Known, harmless.
QUIET_WARNINGS = (
    "There is a performance drop because we have not yet implemented the batching rule",
    "You are solving a parameterized problem that is not DPP",
)
# Seeds of the loop's two random streams are offset per rank so ranks draw different noise.
RANK_SEED_STRIDE = 7919


@dataclass
class TrainResult:
    step: int
    out_dir: Path
    history: list[dict[str, float]] = field(default_factory=list)  # per step: loss terms, lr, total, stage


@dataclass
class RunState:
    """Where a run stands: the stage it is in, the steps done in it and in all."""

    stage: int = 0
    stage_step: int = 0
    step: int = 0


def train(
    config: FamilyConfig,
    *,
    task: TrainingTask | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or resume) the model `config` describes; returns the per-step history."""
    from lightning.fabric import Fabric

    run = config.train
    task = task if task is not None else get_family(config.family).task_class()(config)
    checkpoint = load_training_checkpoint(resume, config.family) if resume is not None else None
    fabric = Fabric(accelerator=run.accelerator, devices=run.devices, num_nodes=run.num_nodes,
                    strategy=run.strategy, precision=run.precision)
    fabric.launch()

    torch.manual_seed(run.seed)
    task.prepare(None if checkpoint is None else checkpoint["assets"], progress and fabric.is_global_zero)
    module = task.build_module()
    ema = EMA(module, run.ema_decay, run.ema_warmup)
    state = RunState()
    if checkpoint is not None:
        _load_module(module, checkpoint["module"], resume)
        ema.load_state_dict(checkpoint["ema"])
        state = RunState(checkpoint["stage"], checkpoint["stage_step"], checkpoint["step"])
    ema.model.to(fabric.device)

    generator = torch.Generator(device=fabric.device).manual_seed(run.seed + RANK_SEED_STRIDE * fabric.global_rank)
    torch.manual_seed(run.seed + fabric.global_rank)
    if checkpoint is not None:
        _restore_rng(checkpoint["rng"], generator, fabric.global_rank, fabric.world_size)

    out_dir = Path(run.out_dir)
    log = MetricsLog(out_dir / "metrics.jsonl", keep_until=state.step if checkpoint is not None else 0,
                     enabled=fabric.is_global_zero)
    if fabric.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(config_to_dict(config), sort_keys=False))
    result = TrainResult(state.step, out_dir)
    stages = task.stages()
    for index in range(state.stage, len(stages)):
        # A checkpoint taken mid-stage (or at a finished stage whose steps were raised since)
        # continues that stage with its optimizer; otherwise the stage starts afresh.
        resumed = checkpoint if checkpoint is not None and index == checkpoint["stage"] and state.stage_step else None
        if index != state.stage:
            state.stage, state.stage_step = index, 0
        if state.stage_step < stages[index].max_steps:
            _run_stage(fabric, task, module, ema, stages, index, state, generator, resumed, log, result,
                       progress and fabric.is_global_zero)
    result.step = state.step
    return result


def _run_stage(fabric, task: TrainingTask, module: nn.Module, ema: EMA, stages: Sequence[Stage], index: int,
               state: RunState, generator: torch.Generator, resumed: dict | None, log: "MetricsLog",
               result: TrainResult, progress: bool) -> None:
    """Train stage `index` from `state.stage_step` to its end, checkpointing as configured."""
    run, stage = task.config.train, stages[index]
    trainable = _set_trainable(module, stage)
    optimizer = torch.optim.AdamW(trainable, lr=stage.learning_rate or run.learning_rate, weight_decay=run.weight_decay)
    combiner = task.combiner(stage, module)
    if resumed is not None:
        optimizer.load_state_dict(resumed["optimizer"])
        combiner.load_state_dict(resumed.get("combiner", {}))
    model = fabric.setup_module(module)
    optimizer = fabric.setup_optimizers(optimizer)
    dataset = task.dataset(stage)
    batches = EpochBatches(len(dataset), run.batch_size, run.seed + index, fabric.global_rank, fabric.world_size)
    loader = DataLoader(dataset, batch_sampler=batches.from_step(state.stage_step), num_workers=run.num_workers,
                        generator=torch.Generator().manual_seed(run.seed))  # keeps the global RNG untouched

    def save() -> None:
        rng = _gather_rng(fabric, generator)  # every rank takes part in the gather
        if fabric.is_global_zero:
            _save(task, module, ema, optimizer, combiner, state, rng, stages)
            log.flush()
        fabric.barrier()

    bar = tqdm(total=stage.max_steps, initial=state.stage_step, desc=f"training {stage.name}", disable=not progress)
    batch_iterator = iter(loader)
    with warnings.catch_warnings():
        for message in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        while state.stage_step < stage.max_steps:
            batch = fabric.to_device(next(batch_iterator))  # any nesting of tensors
            rate = _learning_rate(stage.learning_rate or run.learning_rate, run.warmup_steps, state.stage_step)
            record = _optimisation_step(fabric, model, optimizer, combiner, trainable, batch, generator, rate,
                                        run.grad_clip, stage.name)
            ema.update(module)
            state.stage_step += 1
            state.step += 1
            record.update(step=state.step, stage=stage.name)
            result.history.append(record)
            bar.update(1)
            bar.set_postfix(loss=f"{record['total']:.4f}", refresh=False)
            if state.step % run.log_every == 0 or state.stage_step == stage.max_steps:
                log.write(record)
            # Every stage ends with a checkpoint: a run stopped there resumes into the next stage.
            if state.step % run.checkpoint_every == 0 or state.stage_step == stage.max_steps:
                save()
    bar.close()


def _set_trainable(module: nn.Module, stage: Stage) -> list[nn.Parameter]:
    """Freeze everything but what `stage` trains; returns the trainable parameters."""
    chosen = list(module.parameters()) if stage.trainable is None else list(stage.trainable(module))
    ids = {id(parameter) for parameter in chosen}
    for parameter in module.parameters():
        parameter.requires_grad_(id(parameter) in ids)
    if not chosen:
        raise ArgumentError(f"stage {stage.name}", "trains no parameters")
    return chosen


def _save(task: TrainingTask, module: nn.Module, ema: EMA, optimizer, combiner, state: RunState, rng: dict,
          stages: Sequence[Stage]) -> None:
    out_dir = Path(task.config.train.out_dir)
    save_training_checkpoint(out_dir / "last.ckpt", {
        "family": task.config.family,
        "config": config_to_dict(task.config),
        "stage": state.stage,
        "stage_step": state.stage_step,
        "step": state.step,
        "module": module.state_dict(),
        "ema": ema.state_dict(),
        "optimizer": optimizer.state_dict(),
        "combiner": combiner.state_dict(),
        "rng": rng,
        "assets": task.assets(),
    })
    bundle = task.bundle(ema.model, state.step)
    done = stages[: state.stage + (state.stage_step >= stages[state.stage].max_steps)]
    training = {**bundle.header.training, "steps": state.step, "stages": [stage.name for stage in done]}
    save_bundle(bundle.with_header(training=training), out_dir / "model.pt")


def _load_module(module: nn.Module, weights: dict, path: str | Path) -> None:
    try:
        module.load_state_dict(weights)
    except RuntimeError:
        raise InputFileError(path, "was trained with another network size than this config's") from None


class MetricsLog:
    """`metrics.jsonl`, one JSON record a line. On start it keeps only the records up to the
    step the run resumes from (none for a fresh run), rewritten atomically; records are then
    buffered and appended at each checkpoint, so the log never runs ahead of `last.ckpt`."""

    def __init__(self, path: Path, keep_until: int, enabled: bool = True):
        self.path, self.enabled, self.pending = path, enabled, []
        if not enabled:
            return
        kept = []
        if keep_until and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:  # a line torn by a crash
                    continue
                if isinstance(record, dict) and record.get("step", math.inf) <= keep_until:
                    kept.append(line)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, "".join(f"{line}\n" for line in kept))

    def write(self, record: dict) -> None:
        if self.enabled:
            self.pending.append(json.dumps(record))

    def flush(self) -> None:
        if not (self.enabled and self.pending):
            return
        previous = self.path.read_text(encoding="utf-8") if self.path.is_file() else ""
        atomic_write_text(self.path, previous + "".join(f"{line}\n" for line in self.pending))
        self.pending = []


class EpochBatches:
    """Batches of indices, reshuffled every epoch from (seed, epoch) alone, so the batch at any
    global step can be recomputed after a restart. Each rank takes its own slice of a batch."""

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.global_batch = batch_size * world_size
        # Small data sets: draw with replacement across epoch boundaries rather than fail.
        self.per_epoch = max(1, size // self.global_batch)

    def order(self, epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        repeats = math.ceil(self.global_batch / self.size)
        return torch.cat([torch.randperm(self.size, generator=generator) for _ in range(repeats)]).tolist()

    def from_step(self, step: int) -> Iterator[list[int]]:
        epoch, offset = divmod(step, self.per_epoch)
        while True:
            order = self.order(epoch)
            for batch in range(offset, self.per_epoch):
                chunk = order[batch * self.global_batch : (batch + 1) * self.global_batch]
                yield chunk[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
            epoch, offset = epoch + 1, 0


def _learning_rate(rate: float, warmup_steps: int, step: int) -> float:
    """Linear warm-up to the stage's rate, then constant (a function of the step alone)."""
    return rate * min(1.0, (step + 1) / warmup_steps) if warmup_steps else rate


def _optimisation_step(fabric, model, optimizer, combiner, parameters, batch, generator, learning_rate: float,
                       grad_clip, stage: str) -> dict[str, float]:
    """Loss terms → combined gradients → clipped AdamW update; returns what to log."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
    model.train()
    losses = model(batch, generator, stage)
    optimizer.zero_grad(set_to_none=True)
    if combiner.uses_jacobians:
        with fabric.no_backward_sync(model, enabled=fabric.world_size > 1):
            weights = combiner.backward(losses, parameters)
        _average_gradients(fabric, parameters)
    else:
        weights = combiner.backward(losses, parameters, backward=fabric.backward)
    if grad_clip is not None:
        fabric.clip_gradients(model, optimizer, max_norm=grad_clip)
    optimizer.step()
    record = {name: float(value.detach()) for name, value in losses.items()}
    record["total"] = sum(weights.get(name, 0.0) * value for name, value in record.items())
    record.update({f"weight_{name}": weight for name, weight in weights.items()}, lr=learning_rate)
    return record


def _average_gradients(fabric, parameters: Sequence[Tensor]) -> None:
    """Jacobian-based combiners bypass DDP's gradient hooks; average across ranks by hand."""
    if fabric.world_size == 1:
        return
    for parameter in parameters:
        if parameter.grad is not None:
            parameter.grad = fabric.all_reduce(parameter.grad, reduce_op="mean")


def _gather_rng(fabric, generator: torch.Generator) -> dict[str, Any]:
    """Every rank's RNG states (rank r's at index r), so each rank resumes its own streams."""
    states = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if fabric.world_size > 1:
        states = {name: fabric.all_gather(state.to(fabric.device)).cpu() for name, state in states.items()}
    else:
        states = {name: state[None] for name, state in states.items()}
    states["cuda"] = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    states["python"] = random.getstate()
    return states


def _restore_rng(state: dict, generator: torch.Generator, rank: int, world_size: int) -> None:
    if state["torch"].shape[0] != world_size:
        warnings.warn(f"resuming {state['torch'].shape[0]} ranks' random streams on {world_size} ranks: not bit-exact")
    row = min(rank, state["torch"].shape[0] - 1)
    # clone(): set_state reads the tensor's storage from its start, so a row view would not do.
    torch.set_rng_state(state["torch"][row].clone())
    generator.set_state(state["generator"][row].clone())
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    python_state = state["python"]
    random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
