"""A 2-rank torch.distributed (gloo) job saves sharded state through
ckpt.torch; a single process resumes from it bit for bit (dist_job.py)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("this torch has no torch.distributed", allow_module_level=True)

SCRIPT = Path(__file__).with_name("dist_job.py")


def test_two_rank_job_resumes_in_one_process_bit_exact(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    init = tmp_path / "init"
    ranks = [subprocess.Popen([sys.executable, "-P", str(SCRIPT), str(store), str(init), "rank",
                               str(r)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    for r, p in enumerate(ranks):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, f"rank {r}: {err}"
    import ckpt
    with ckpt.Store(str(store)) as s:
        detail = s.show("job@5")
        assert detail.info.world_size == 2
        sharded = [e for e in detail.entries if e.pieces]
        assert sharded and all(len(e.pieces) == 2 for e in sharded)
        assert {e.name for e in detail.entries if e.local_rank >= 0} >= {"rank0/rng", "rank1/rng"}
    p = subprocess.run([sys.executable, "-P", str(SCRIPT), str(store), "-", "resume"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    dist = np.load(store / "final-dist.npz")
    single = np.load(store / "final-single.npz")
    assert len(dist.files) == 4
    for k in dist.files:
        assert dist[k].tobytes() == single[k].tobytes(), k
