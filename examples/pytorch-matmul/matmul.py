#!/usr/bin/env python3
"""Multiply two bf16 matrices on the GPU, report the speed and the device as JSON."""

import json
import time

import torch

N = 8192
REPEATS = 20

assert torch.cuda.is_available(), "no CUDA device visible"
device = torch.device("cuda:0")
a = torch.randn(N, N, device=device, dtype=torch.bfloat16)
b = torch.randn(N, N, device=device, dtype=torch.bfloat16)
for _ in range(3):  # warm up: cuBLAS picks its kernels on the first calls
    a @ b
torch.cuda.synchronize()
start = time.perf_counter()
for _ in range(REPEATS):
    c = a @ b
torch.cuda.synchronize()
seconds = (time.perf_counter() - start) / REPEATS
# Check the answer against fp32 on a slice, so a fast wrong kernel does not pass.
reference = a[:64].float() @ b.float()
error = (c[:64].float() - reference).abs().max().item() / reference.abs().max().item()
print(
    json.dumps(
        {
            "device": torch.cuda.get_device_name(device),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "n": N,
            "seconds_per_matmul": round(seconds, 6),
            "tflops": round(2 * N**3 / seconds / 1e12, 1),
            "relative_error": error,
            "ok": error < 0.05,
        }
    )
)
