"""A store written from Python is the same store the ckpt command line sees."""

import json

import numpy as np

import ckpt
from conftest import read_safetensors, write_safetensors


def test_python_checkpoint_is_listed_and_exported_by_the_cli(store_path, cli, tmp_path):
    w = np.random.default_rng(0).standard_normal((40, 30)).astype(np.float32)
    ids = np.arange(100, dtype=np.int64)
    bf = np.arange(64, dtype=np.uint16)
    with ckpt.Store(store_path, create=True) as s:
        info = s.save("py-run", 12, {"w": w, "ids": ids, "bf": bf}, dtypes={"bf": "BF16"},
                      metrics={"loss": 0.75})
    log = json.loads(cli(store_path, "log", "--json").stdout)
    text = json.dumps(log)
    assert info.id in text and "py-run" in text and "0.75" in text
    out = tmp_path / "out.safetensors"
    cli(store_path, "export", "py-run@12", "-o", str(out))
    st = read_safetensors(out)
    assert st["w"] == ("F32", (40, 30), w.tobytes())
    assert st["ids"] == ("I64", (100,), ids.tobytes())
    assert st["bf"] == ("BF16", (64,), bf.tobytes())


def test_cli_import_loads_from_python(store_path, cli, tmp_path):
    a = np.linspace(-1, 1, 1000, dtype=np.float16).reshape(10, 100)
    b = np.arange(12, dtype=np.uint16)
    f = tmp_path / "in.safetensors"
    write_safetensors(f, {"a": ("F16", a.shape, a.tobytes()), "b": ("BF16", b.shape, b.tobytes())})
    cli(store_path, "init")
    cli(store_path, "import", str(f), "--run", "imported", "--step", "3", "--metric", "loss=2.5")
    with ckpt.Store(store_path) as s:
        ck = s.load("imported@3")
        np.testing.assert_array_equal(ck["a"], a)
        assert ck.dtypes == {"a": "F16", "b": "BF16"}
        np.testing.assert_array_equal(ck["b"], b)
        assert ck.metrics == {"loss": 2.5}
        s.tag("imported@3", "from-python")
    tags = cli(store_path, "tag", "--list").stdout
    assert "from-python" in tags
