"""A store in object storage (a real Ceph RGW that scripts/test.sh starts):
real PyTorch training saved from one "host" and loaded on another, and the
bucket's contents as another S3 client (boto3) sees them. Skipped, with the
reason, when no server is set up."""
import os
import re
import secrets

import numpy as np
import pytest

import ckpt

BUCKET = os.environ.get("CKPT_TEST_S3_BUCKET")
pytestmark = pytest.mark.skipif(
    not BUCKET or not os.environ.get("AWS_ENDPOINT_URL"),
    reason="no S3 server: run scripts/rgw.sh start DIR and eval \"$(scripts/rgw.sh env DIR)\"")


@pytest.fixture
def url():
    return f"s3://{BUCKET}/py-{secrets.token_hex(6)}"


def test_torch_training_saved_on_one_host_loads_on_another(url, tmp_path):
    torch = pytest.importorskip("torch")
    import ckpt.torch as ct

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 8))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    saved = {}
    with ckpt.Store(url, create=True, cache_dir=str(tmp_path / "host-a")) as a:
        for step in range(1, 4):
            x = torch.randn(32, 64)
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            ct.save(a, "train", step, {"model": model.state_dict(), "opt": opt.state_dict()})
            saved[step] = {k: v.clone() for k, v in model.state_dict().items()}
    with ckpt.Store(url, cache_dir=str(tmp_path / "host-b")) as b:
        assert [c.step for c in b.log("train")] == [1, 2, 3]
        for step, weights in saved.items():
            back = ct.load(b, f"train@{step}")
            for name, tensor in weights.items():
                assert torch.equal(back["model"][name], tensor)
        assert b.verify(read_data=True).ok


def test_bucket_holds_exactly_the_documented_objects(url, tmp_path):
    boto3 = pytest.importorskip("boto3")
    with ckpt.Store(url, create=True, cache_dir=str(tmp_path / "cache")) as s:
        s.save("r", 1, {"w": np.arange(100000, dtype=np.float32)})
        s.save("r", 2, {"w": np.arange(100000, dtype=np.float32) * 2})
        s.tag("r@2", "best")
        s.rm("r@1")
        assert s.gc(log_snapshot_records=1).log_snapshot > 0
    prefix = url.split("/", 3)[3] + "/"
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                          region_name=os.environ.get("AWS_REGION", "us-east-1"))
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys += [o["Key"][len(prefix):] for o in page.get("Contents", [])]
    documented = re.compile(r"^(config|packs/[0-9a-f]{2}/[0-9a-f]{32}|refs/tags/best|"
                            r"refs/deleted/[0-9a-f]{64}|log/\d{20}|logsnap/\d{20})$")
    assert keys and all(documented.match(k) for k in keys), keys
    assert "config" in keys and "refs/tags/best" in keys
    assert sum(k.startswith("refs/deleted/") for k in keys) == 1
    logs = sorted(k for k in keys if k.startswith("log/"))
    assert logs == [f"log/{i:020d}" for i in range(1, len(logs) + 1)]  # no gap
    assert not any(k.startswith("locks/") for k in keys)  # every lease released
    assert sum(k.startswith("logsnap/") for k in keys) == 1
