"""What the Python benchmarks (bench/torch, bench/sharded) share: the
machine's description, bytes on disk, and the run of a benchmark over the
series that bench/gen generates."""

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def machine_info(work):
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.processor())
    ram = next(int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal"))
    fs = subprocess.run(["df", "-PT", str(work)], capture_output=True, text=True).stdout
    osname = next((ln.split("=", 1)[1].strip().strip('"') for ln in open("/etc/os-release")
                   if ln.startswith("PRETTY_NAME")), "unknown")
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": ram / 2**20,
            "fs": fs.splitlines()[1].split()[1], "os": osname, "kernel": platform.release(),
            "loadavg": open("/proc/loadavg").read().strip()}


def du(path):
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def add_common_args(ap, scenarios, results):
    ap.add_argument("--size-mb", type=float, default=200)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--scenarios", default=scenarios)
    ap.add_argument("--gen", default="build/bench/gen/ckpt_bench_gen")
    ap.add_argument("--out", default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--results", default=results)


def run(args, prefix, run_scenario, report):
    """Generates the series, runs run_scenario(name, files, work) on each,
    prints report(results, machine) and writes it with every raw number to
    args.results (.md, .json)."""
    work = Path(args.out or tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    try:
        scenarios = args.scenarios.split(",")
        subprocess.run([args.gen, "--out", str(work / "data"), "--size-mb", str(args.size_mb),
                        "--scale", str(args.scale), "--scenarios", ",".join(scenarios)],
                       check=True, capture_output=True)
        machine = machine_info(work)
        results = {}
        for sc in scenarios:
            files = [work / "data" / sc / f"ckpt-{k}.safetensors" for k in range(1, 7)]
            results[sc] = run_scenario(sc, files, work)
            print(f"{sc}: done", file=sys.stderr)
        machine["loadavg_end"] = open("/proc/loadavg").read().strip()
        md = report(results, machine)
        print(md)
        Path(args.results + ".md").write_text(md)
        Path(args.results + ".json").write_text(json.dumps(
            {"machine": machine, "args": vars(args), "results": results}, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
