"""Request examples for the OpenAPI document (`openapi_examples` of each request body): what
the interactive docs offer to send, each a body its schema accepts
(tests/unit/services/api/test_examples.py)."""

from __future__ import annotations

from typing import Any

from shared.python_env import pipfile_hash

AMUN_PIPFILE: dict[str, Any] = {
    "source": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True}],
    "packages": {"six": "==1.16.0"},
    "requires": {"python_version": "3.11"},
}
AMUN_LOCK: dict[str, Any] = {
    "_meta": {
        "hash": {"sha256": pipfile_hash(AMUN_PIPFILE)},
        "pipfile-spec": 6,
        "requires": AMUN_PIPFILE["requires"],
        "sources": AMUN_PIPFILE["source"],
    },
    "default": {
        "six": {
            "hashes": ["sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"],
            "index": "pypi",
            "version": "==1.16.0",
        }
    },
    "develop": {},
}
INSPECTION_EXAMPLES: dict[str, Any] = {
    "json-script": {
        "summary": "A script printing JSON, three runs on AVX2 nodes",
        "value": {
            "base": "host",
            "script": "#!/usr/bin/env python3\nimport json, platform\n"
            "print(json.dumps({'python': platform.python_version()}))\n",
            "batch_size": 3,
            "run": {
                "requests": {
                    "cpu": 1,
                    "memory": "256MiB",
                    "hardware": {"cpu": {"flags": ["avx2"]}},
                }
            },
        },
    },
    "gpu": {
        "summary": "A PyTorch matrix multiply on one H100",
        "value": {
            "base": "host",
            "python_packages": ["torch==2.5.1"],
            "script": "#!/usr/bin/env python3\nimport json, torch\n"
            "a = torch.randn(8192, 8192, device='cuda')\n"
            "print(json.dumps({'sum': float((a @ a).sum())}))\n",
            "run": {"requests": {"hardware": "H100:1"}, "timeout": 1800},
        },
    },
    "pipfile-lock": {
        "summary": "Amun style: a Pipfile and its Pipfile.lock",
        "value": {
            "base": "host",
            "python": {
                "requirements": '[packages]\nsix = "==1.16.0"\n',
                "requirements_locked": '{"_meta": {}, "default": {"six": {"version": "==1.16.0", '
                '"hashes": ["sha256:8abb2f1d86890a2dfb989f9a77cfcfd3'
                'e47c2a354b01111771326f8aa26e0254"]}}}',
            },
            "script": "#!/usr/bin/env python3\nimport six\nprint(six.__version__)\n",
        },
    },
    "amun": {
        "summary": "Amun's form: Pipfile and lock as objects, micropipenv, Amun's hardware keys",
        "value": {
            "base": "host",
            "package_manager": "micropipenv",
            "python_packages": ["micropipenv[toml]"],
            "python": {"requirements": AMUN_PIPFILE, "requirements_locked": AMUN_LOCK},
            "environment": [{"name": "OMP_NUM_THREADS", "value": "2"}],
            "script": "#!/usr/bin/env python3\nimport six\nprint(six.__version__)\n",
            "batch_size": 4,
            "allowed_failures": 1,
            "parallelism": 2,
            "run": {
                "requests": {"cpu": "1", "memory": "1Gi", "hardware": {"cpu_family": 6}},
            },
        },
    },
    "build-only": {
        "summary": "Build only: check the environment builds, run nothing",
        "value": {"base": "host", "packages": ["coreutils"], "python_packages": ["six==1.16.0"]},
    },
}
DEPLOYMENT_EXAMPLES: dict[str, Any] = {
    "command": {
        "summary": "A command on the host (argv, no shell)",
        "value": {"command": ["python3", "-c", "print(42)"], "batch_size": 1},
    },
    "executable": {
        "summary": "An application's executable, unpacked into the run's folder",
        "value": {
            "executable": "0b9f3c6e-3d0c-4f5e-9a43-0c7f1e2d5a10",
            "command": ["./bin/app", "--size", "1024"],
        },
    },
    "image-on-gpu": {
        "summary": "An image on one H100",
        "value": {
            "image": "registry.example:5000/app:1.0",
            "command": ["python", "serve.py"],
            "requests": {"hardware": "H100:1"},
        },
    },
    "skypilot-any-of": {
        "summary": "SkyPilot's forms: any of two GPU models, at least 4 CPUs and 32 GiB",
        "value": {
            "command": ["python3", "train.py"],
            "requests": {
                "hardware": {"gpu": {"A100": 1, "V100": 1}, "cpus": "4+", "memory": "32+"}
            },
        },
    },
    "dstack-ranges": {
        "summary": "dstack's forms: a GPU count range, CPU arch and count, free disk",
        "value": {
            "command": ["python3", "train.py"],
            "requests": {"hardware": {"gpu": "A10:4..8", "cpu": "x86:16", "disk": "100GB.."}},
        },
    },
}
OFFER_EXAMPLES: dict[str, Any] = {
    "gpus": {"summary": "Two H100s on the host", "value": {"hardware": "H100:2"}},
    "full": {
        "summary": "A full spec in an image",
        "value": {
            "hardware": {"cpu": {"flags": ["avx512f"]}, "gpu": "nvidia:40GB..:1"},
            "cpu": 8,
            "memory": "64GiB",
            "image": "registry.example:5000/app:1.0",
        },
    },
}
TESTBED_EXAMPLES: dict[str, Any] = {
    "local": {"summary": "This machine", "value": {"name": "workstation", "kind": "local"}},
    "slurm": {
        "summary": "A SLURM cluster behind an SSH login node",
        "value": {
            "name": "cluster",
            "kind": "slurm",
            "config": {
                "host": "login.example.org",
                "port": 22,
                "user": "tessera",
                "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExample",
                "partition": "gpu",
                "gres_types": {"H100": "h100", "A100": "a100"},
            },
            "credentials": "-----BEGIN OPENSSH PRIVATE KEY-----\n...",
        },
    },
    "kubernetes": {
        "summary": "A Kubernetes cluster with GPU nodes",
        "value": {
            "name": "gke-ml",
            "kind": "kubernetes",
            "config": {
                "namespace": "tessera",
                "gpu_label": "nvidia.com/gpu.product",
                "gpu_models": {"H100": ["NVIDIA-H100-*"], "A100": ["NVIDIA-A100-*"]},
                "host_image": "registry.example:5000/tessera/host:1",
            },
            "credentials": "apiVersion: v1\nkind: Config\nclusters: ...",
        },
    },
}

APPLICATION_EXAMPLES: dict[str, Any] = {
    "application": {
        "summary": "An application, before its source",
        "value": {"name": "stencil", "description": "A 3-D stencil in C"},
    }
}
BUILD_EXAMPLES: dict[str, Any] = {
    "configurations": {
        "summary": "The same source for AVX2 nodes, any node, and an H100",
        "value": {
            "configurations": [
                {
                    "name": "avx2",
                    "hardware": {"cpu": {"flags": ["avx2"]}},
                    "build_script": ["make", "CFLAGS=-O2 -march=x86-64-v3"],
                    "artifacts": ["bin/*"],
                },
                {"name": "generic", "build_script": ["make"], "artifacts": ["bin/*"]},
                {
                    "name": "h100",
                    "hardware": "H100:1",
                    "build_script": "nvcc -arch=sm_90 -o bin/app app.cu\n",
                    "artifacts": ["bin/app"],
                },
            ]
        },
    }
}
DRAIN_EXAMPLES: dict[str, Any] = {
    "drain": {"summary": "Before maintenance", "value": {"reason": "firmware update"}}
}

MAP = ["sh", "-c", "echo $TESSERA_TASK_INDEX > part-$TESSERA_TASK_INDEX.txt"]
WORKFLOW_EXAMPLES: dict[str, Any] = {
    "map-reduce": {
        "summary": "12 map copies spread over three testbeds, one reduce reading their parts",
        "value": {
            "name": "skeleton",
            "testbeds": ["local", "slurm", "ssh-lab"],
            "retry": {"attempts": 2},
            "max_parallel": 8,
            "stages": [
                {
                    "name": "map",
                    "tasks": [{"name": "part", "count": 12, "command": MAP, "outputs": ["part-*"]}],
                },
                {
                    "name": "reduce",
                    "depends_on": ["map"],
                    "tasks": [
                        {
                            "name": "sum",
                            "command": ["sh", "-c", "cat parts/part-* | paste -sd+ | bc"],
                            "inputs": [{"from": "map/part", "path": "parts"}],
                        }
                    ],
                },
            ],
        },
    }
}
