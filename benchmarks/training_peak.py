"""How close convcalc's training peak is to what PyTorch's CPU allocator really holds.

Usage::

    python benchmarks/training_peak.py [resnet50] [batch] [adam]

Builds the example's plain-torch twin (tests/torch_models.py), makes its activations
out-of-place (as convcalc counts them), runs one training step (forward, the sum of the
output as the loss, backward, an optimizer step), which makes the gradients and the
optimizer's state, then a second one under ``torch.profiler`` with
``profile_memory=True``, its gradients kept allocated (``zero_grad(set_to_none=False)``)
as convcalc's peak counts them. Every allocation and free
the profiler records (the self memory of each op, and its ``[memory]`` events) is summed
in time order; the largest sum is the step's peak above what was held before it (the
parameters, buffers, input, gradients and optimizer state, added back from their sizes).
Printed beside convcalc's ``peak_bytes`` and its parts.
Memory, not time: nothing here is timed.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class _nothing:
    """A stand-in for the profiler's context manager in the unmeasured first step."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def main() -> None:
    """Run one measured training step and print torch's peak beside convcalc's."""
    name = sys.argv[1] if len(sys.argv) > 1 else "resnet50"
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    optimizer_name = sys.argv[3] if len(sys.argv) > 3 else "adam"
    sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]

    import torch
    import torch_models
    from torch.profiler import ProfilerActivity, profile

    from convcalc import TrainingSpec, analyze
    from convcalc.loader import load_network

    torch.set_num_threads(1)
    model = torch_models.BUILDERS[name]()
    for module in model.modules():
        if getattr(module, "inplace", False):
            module.inplace = False
    model.train()
    shape = torch_models.INPUT_SHAPES[name]
    x = torch.randn(batch, *shape)
    optimizers = {"sgd": lambda p: torch.optim.SGD(p, lr=0.1),
                  "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                  "adam": lambda p: torch.optim.Adam(p, foreach=False),
                  "adamw": lambda p: torch.optim.AdamW(p, foreach=False)}
    optimizer = optimizers[optimizer_name](model.parameters())

    def step(profiled: bool) -> object:
        optimizer.zero_grad(set_to_none=False)  # the gradients stay allocated, as counted
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                     record_shapes=False) if profiled else _nothing() as profiler:
            loss = model(x).sum()
            loss.backward()
            optimizer.step()
        return profiler

    step(False)  # the first step makes the gradients and the optimizer's state
    tensors = [*model.parameters(), *model.buffers(), x,
               *(p.grad for p in model.parameters() if p.grad is not None),
               *(t for state in optimizer.state.values() for t in state.values()
                 if isinstance(t, torch.Tensor) and t.numel() > 1)]
    held = sum(t.numel() * t.element_size() for t in tensors)
    profiler = step(True)
    # Each allocation and free is the self memory of the innermost op it happened in (or
    # of a "[memory]" event outside any op): in time order, their running sum is what the
    # step holds beyond what it started with (an op's own short-lived buffers inside it
    # are netted, so this is a lower bound by those).
    events = sorted((event.time_range.start, event.self_cpu_memory_usage)
                    for event in profiler.events() if event.self_cpu_memory_usage)  # type: ignore[attr-defined]
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)

    report = analyze(load_network(REPO_ROOT / "examples" / f"{name}.yaml").network,
                     batch=batch, training=TrainingSpec(optimizer=optimizer_name))
    totals = report.totals.training
    assert totals is not None
    print(f"{name}, batch {batch}, {optimizer_name}, float32, CPU, one thread")
    print(f"torch: held before the step {held:>15,} B, peak during it {peak:>15,} B, "
          f"in all {held + peak:>15,} B")
    print(f"convcalc peak_bytes {totals.peak_bytes:>15,} B "
          f"({totals.peak_bytes / (held + peak):.3f} of torch's)")
    for key in ("param_bytes", "buffer_bytes", "grad_bytes", "optimizer_bytes",
                "saved_bytes", "transient_bytes"):
        print(f"  {key:<16} {getattr(totals, key):>15,} B")


if __name__ == "__main__":
    main()
