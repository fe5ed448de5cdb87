#!/usr/bin/env python3
"""Allocates GPU memory with PyTorch, optionally runs matrix products, reports, exits.

Usage: python3 scripts/alloc.py --mb N [--seconds S] [--no-matmul] [--matmul-size M]

A real workload for `npm run gpu-check`: it holds N MiB on the GPU that
CUDA_VISIBLE_DEVICES shows it (torch.empty(N MiB, dtype=uint8, device='cuda')), then for S
seconds either runs bf16 matrix products (load, heat, power) or just waits, and exits, which
frees the memory. Its last stdout line is one JSON object:

  {"pid", "requested_mb", "torch_allocated_mb", "torch_reserved_mb", "device", "torch",
   "seconds", "matmul_iterations", "tflops", "simulated": false}

torch_reserved_mb is what PyTorch's allocator holds; nvidia-smi also counts the CUDA
context (a few hundred MiB) and cuBLAS's workspace, so its figure is larger.

Exit codes: 0 done; 2 bad arguments; 3 PyTorch is not installed; 4 PyTorch sees no GPU;
5 the allocation failed (out of memory).
"""
import argparse
import json
import os
import sys
import time

MIB = 1024 * 1024


def say(line):
    print(line, file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description="Hold GPU memory (and load) with PyTorch for a while.")
    p.add_argument("--mb", type=int, required=True, help="MiB to allocate on the GPU")
    p.add_argument("--seconds", type=float, default=20.0, help="how long to hold it (default 20)")
    p.add_argument("--no-matmul", action="store_true", help="only hold the memory; no compute load")
    p.add_argument("--matmul-size", type=int, default=8192, help="side of the square matrices (default 8192)")
    a = p.parse_args()
    if a.mb <= 0 or a.seconds < 0 or a.matmul_size <= 0:
        say(f"alloc.py: --mb must be > 0, --seconds >= 0 and --matmul-size > 0; got {a.mb}, {a.seconds}, {a.matmul_size}")
        return 2

    try:
        import torch
    except ImportError as e:
        say(f"alloc.py: PyTorch is not installed for {sys.executable} ({e}); "
            "install torch with CUDA support, or run gpu-check with --python PATH naming a Python that has it")
        return 3
    if not torch.cuda.is_available():
        say(f"alloc.py: torch {torch.__version__} sees no CUDA GPU "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}, torch built for CUDA {torch.version.cuda})")
        return 4

    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(dev)
    try:
        block = torch.empty(a.mb * MIB, dtype=torch.uint8, device=dev)
        block.zero_()  # touch it: the memory is really in use, not only reserved
    except RuntimeError as e:  # torch.cuda.OutOfMemoryError is a RuntimeError
        say(f"alloc.py: CUDA out of memory allocating {a.mb} MiB on {name}: {e}")
        return 5
    torch.cuda.synchronize()
    say(f"alloc.py: pid {os.getpid()} holds {a.mb} MiB on {name}; "
        f"{'matmuls' if not a.no_matmul else 'idle'} for {a.seconds:g} s")

    iterations = 0
    flops = 0.0
    started = time.monotonic()
    if a.no_matmul:
        time.sleep(a.seconds)
    else:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        n = a.matmul_size
        x = torch.randn(n, n, dtype=dtype, device=dev)
        y = torch.randn(n, n, dtype=dtype, device=dev)
        out = torch.empty(n, n, dtype=dtype, device=dev)
        while time.monotonic() - started < a.seconds:
            for _ in range(20):
                torch.matmul(x, y, out=out)
            torch.cuda.synchronize()
            iterations += 20
            flops += 20 * 2.0 * n * n * n
    elapsed = time.monotonic() - started

    report = {
        "pid": os.getpid(),
        "requested_mb": a.mb,
        "torch_allocated_mb": round(torch.cuda.memory_allocated(dev) / MIB),
        "torch_reserved_mb": round(torch.cuda.memory_reserved(dev) / MIB),
        "device": name,
        "torch": torch.__version__,
        "seconds": round(elapsed, 2),
        "matmul_iterations": iterations,
        "tflops": round(flops / elapsed / 1e12, 1) if iterations and elapsed > 0 else None,
        "simulated": False,
    }
    del block
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
