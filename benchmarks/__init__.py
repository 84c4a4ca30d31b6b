"""Speed and memory figures of the pipeline, one JSON line per figure on stdout, then a short table.

    python -m benchmarks                          # every stage but full_scale, Israel-sized frames
    python -m benchmarks --stages window_mean naive_window_loop
    python -m benchmarks --stages prepare --frames 400 --out logs/bench.jsonl
    python -m benchmarks --stages batch_assembly training

Run from the checkout's root (``make benchmark`` does). Stages: window_mean (box filter),
naive_window_loop (the original's per-window loop), prepare (cache build end to end, peak RSS),
batch_assembly (gather and the training stream at batch 4096, default features), training (default
MLP fed by the real pipeline vs prebuilt tensors: the ratio says whether training is input-bound),
full_scale (the real archive's size; not run by default). batch_assembly and training use a
synthetic Israel-sized archive (the real DEM when present, every --day-step-th day) built by the
parent process; the measured work runs in a child process, whose peak RSS (VmHWM: memory-mapped
cache pages included) is reported.

Each JSON line has: name, value, unit, machine (platform, cpu count, ...), sizes (what was measured).
Stages are plain functions registered with ``@stage("name")`` (``benchmarks.common``), one module
per stage; each takes the parsed arguments and returns a list of ``figure(...)`` dicts. Runs
single-threaded on one core unless ``--all-cores``.
"""
