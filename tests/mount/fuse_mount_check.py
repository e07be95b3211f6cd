#!/usr/bin/python3
"""`ckpt mount` through the kernel: a real FUSE mount of a real store.

Usage: fuse_mount_check.py CKPT_BINARY

Exits 77 (skipped, by CTest's SKIP_RETURN_CODE) where FUSE cannot be used:
no /dev/fuse, no permission to open it, or no fusermount3.

Checks: every model.safetensors is byte-identical to `ckpt export`, also
at fuzzed offsets and lengths; numpy.load(mmap_mode="r") of every tensor
file equals the tensor; sizes and mtimes; a checkpoint saved while mounted
appears; a file open while its checkpoint is removed and gc runs stays
readable; a flipped byte in a pack gives EIO to exactly the reads of its
chunk, with a log line naming the checkpoint; both unmount paths (SIGTERM
to a foreground mount, fusermount3 -u of a background one) leave no
process and no mount behind.
"""
import errno
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

CHUNK = 64 * 1024
SKIP = 77


def skip(why):
    print(f"SKIPPED: {why}")
    sys.exit(SKIP)


def fuse_usable():
    if not os.path.exists("/dev/fuse"):
        skip("no /dev/fuse on this machine")
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as e:
        skip(f"cannot open /dev/fuse: {e}")
    if shutil.which("fusermount3") is None:
        skip("fusermount3 is not installed (Debian package fuse3)")


def write_safetensors(path, tensors):
    """tensors: list of (name, safetensors dtype, numpy array)."""
    header, blobs, offset = {}, [], 0
    for name, dtype, array in tensors:
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def make_tensors(seed):
    rng = np.random.default_rng(seed)
    return [
        ("model.embed", "F32", rng.standard_normal((300, 129)).astype(np.float32)),
        ("model.layers.0/attn", "F16", rng.standard_normal((77, 65)).astype(np.float16)),
        ("model.bf16", "BF16", rng.integers(0, 2**16, (1000,), dtype=np.uint16)),
        ("step_counts", "I64", rng.integers(-5, 5, (13, 3), dtype=np.int64)),
        ("scalar", "F64", np.array(3.5)),
    ]


class Cli:
    def __init__(self, binary, store):
        self.binary, self.store = binary, store

    def __call__(self, *args, check=True):
        r = subprocess.run([self.binary, "--store", self.store, *args],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"ckpt {' '.join(args)} failed: {r.stderr}")
        return r


def import_step(cli, tmp, step, seed):
    tensors = make_tensors(seed)
    path = os.path.join(tmp, f"in{step}.safetensors")
    write_safetensors(path, tensors)
    cli("import", path, "--run", "train", "--step", str(step), "-q")
    return path, tensors


def export(cli, tmp, ref):
    out = os.path.join(tmp, "export.safetensors")
    cli("export", ref, "--output", out, "-q")
    with open(out, "rb") as f:
        return f.read()


def wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def check_files(cli, tmp, mnt, step, tensors):
    ckpt_dir = os.path.join(mnt, "runs", "train", str(step))
    model = os.path.join(ckpt_dir, "model.safetensors")
    exported = export(cli, tmp, f"train@{step}")
    assert read_file(model) == exported, f"step {step}: model.safetensors differs from export"
    st = os.stat(model)
    assert st.st_size == len(exported)
    meta = json.loads(read_file(os.path.join(ckpt_dir, "meta.json")))
    assert meta["step"] == step and meta["run"] == "train"
    assert abs(st.st_mtime_ns - meta["wall_time_ns"]) < 1_000_000_000

    rng = random.Random(step)
    fd = os.open(model, os.O_RDONLY)
    try:
        for _ in range(300):
            offset = rng.randrange(len(exported) + 100)
            length = rng.randrange(3 * CHUNK)
            assert os.pread(fd, length, offset) == exported[offset:offset + length]
    finally:
        os.close(fd)

    for entry in meta["entries"]:
        if entry["kind"] == "blob":  # the imported file's own header
            assert entry["name"] == "safetensors.header"
            header = read_file(os.path.join(ckpt_dir, entry["file"]))
            assert exported.startswith(header) and len(header) == entry["byte_length"]
            continue
        array = np.load(os.path.join(ckpt_dir, entry["file"]), mmap_mode="r")
        expected = dict((n, a) for n, _, a in tensors)[entry["name"]]
        assert array.shape == expected.shape, entry
        assert array.tobytes() == np.ascontiguousarray(expected).tobytes(), entry
        del array


def unmounted(mnt):
    return not os.path.ismount(mnt)


def process_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie of ours counts as gone once reaped by its parent (not us).
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] == "Z"


def describe_process(pid):
    """Where a process that should have exited is stuck, for the log."""
    try:
        with open(f"/proc/{pid}/status") as f:
            print("".join(l for l in f if l.startswith(("State", "PPid", "Threads"))))
        for task in sorted(os.listdir(f"/proc/{pid}/task")):
            with open(f"/proc/{pid}/task/{task}/wchan") as f:
                print(f"thread {task}: waiting in {f.read() or '-'}")
    except OSError as e:
        print(f"cannot describe process {pid}: {e}")


def background_mount(cli, tmp, mnt):
    r = cli("mount", mnt, "--background")
    pid = int(r.stdout.split("(process ")[1].split(")")[0])
    assert os.path.ismount(mnt), "ckpt mount --background returned before the mount was in place"
    return pid


def check_background_mount(cli, tmp, mnt):
    steps = {}
    for step, seed in ((1, 1), (2, 2), (3, 3)):
        steps[step] = import_step(cli, tmp, step, seed)[1]
    cli("tag", "train@2", "best")
    pid = background_mount(cli, tmp, mnt)
    try:
        assert sorted(os.listdir(os.path.join(mnt, "runs", "train"))) == ["1", "2", "3", "latest"]
        assert os.readlink(os.path.join(mnt, "runs", "train", "latest")) == "3"
        assert os.readlink(os.path.join(mnt, "tags", "best")) == "../runs/train/2"
        assert read_file(os.path.join(mnt, "tags", "best", "model.safetensors")) == export(
            cli, tmp, "best")
        for step, tensors in steps.items():
            check_files(cli, tmp, mnt, step, tensors)

        # A save while mounted appears within the listing's lifetime (1 s).
        steps[4] = import_step(cli, tmp, 4, 4)[1]
        wait_for(lambda: "4" in os.listdir(os.path.join(mnt, "runs", "train")),
                 "train@4 to appear")
        check_files(cli, tmp, mnt, 4, steps[4])

        # gc while a file is open: the removed checkpoint stays readable,
        # also once the listing no longer shows it (reading to the end makes
        # the kernel ask for the open file's attributes again).
        expected = export(cli, tmp, "train@1")
        with open(os.path.join(mnt, "runs", "train", "1", "model.safetensors"), "rb") as f:
            cli("rm", "train@1", "-q")
            cli("gc", "--repack-threshold", "1", "-q")
            wait_for(lambda: "1" not in os.listdir(os.path.join(mnt, "runs", "train")),
                     "train@1 to disappear")
            time.sleep(1.1)  # past the kernel's attribute timeout
            assert os.fstat(f.fileno()).st_size == len(expected)
            assert f.read() == expected, "an open file changed under gc"
    finally:
        subprocess.run(["fusermount3", "-u", mnt], check=True)
    wait_for(lambda: unmounted(mnt), "the mount to go")
    try:
        wait_for(lambda: process_gone(pid), f"mount process {pid} to exit", timeout=60)
    except AssertionError:
        describe_process(pid)
        raise


def newest_pack(store):
    packs = []
    for root, _, files in os.walk(os.path.join(store, "packs")):
        packs += [os.path.join(root, f) for f in files]
    return max(packs, key=os.path.getmtime)


def check_corruption_in_foreground(cli, tmp, mnt, store):
    source, _ = import_step(cli, tmp, 9, 99)
    original = read_file(source)
    pack = newest_pack(store)
    data = bytearray(read_file(pack))
    data[len(data) // 2] ^= 0x10
    with open(pack, "r+b") as f:
        f.write(data)

    log = open(os.path.join(tmp, "mount.log"), "w+")
    proc = subprocess.Popen([cli.binary, "--store", store, "mount", mnt], stderr=log)
    try:
        wait_for(lambda: os.path.ismount(mnt), "the foreground mount")
        model = os.path.join(mnt, "runs", "train", "9", "model.safetensors")
        fd = os.open(model, os.O_RDONLY)
        bad = []
        try:
            for offset in range(0, len(original), 4096):
                try:
                    got = os.pread(fd, 4096, offset)
                except OSError as e:
                    assert e.errno == errno.EIO, e
                    bad.append(offset)
                    continue
                assert got == original[offset:offset + 4096], f"wrong bytes at {offset}"
        finally:
            os.close(fd)
        assert bad, "no read failed after a byte of a pack was flipped"
        assert bad[-1] - bad[0] < CHUNK + 4096, f"failures span {bad[0]}..{bad[-1]}"
        assert len(bad) == (bad[-1] - bad[0]) // 4096 + 1, "failures are not one range"
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
    log.seek(0)
    text = log.read()
    assert rc == 0, f"foreground mount exited {rc} on SIGTERM; its log:\n{text}"
    assert unmounted(mnt), "SIGTERM left the mount in place"
    assert "train@9" in text and "corruption" in text, f"no log line for the bad chunk: {text}"


def main():
    binary = os.path.abspath(sys.argv[1])
    fuse_usable()
    tmp = tempfile.mkdtemp(prefix="ckpt-mount-")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    store = os.path.join(tmp, "store")
    cli = Cli(binary, store)
    try:
        cli("init", "--chunk-size", str(CHUNK), "-q")
        check_background_mount(cli, tmp, mnt)
        print("background mount: export equality, fuzzed reads, numpy, follow, gc, unmount: ok")
        check_corruption_in_foreground(cli, tmp, mnt, store)
        print("foreground mount: EIO for exactly the damaged chunk, log line, SIGTERM: ok")
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-uz", mnt])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
