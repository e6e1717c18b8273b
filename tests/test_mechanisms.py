"""One of each mechanism (issue 17): published models cached under the full protocol and the network built, one torch-checkpoint
writer and loader, one YAML policy for user files (and for the config a shared study stores), one formatter
of pydantic errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from reportutils import make_run

from archspace.errors import ArchspaceError
from archspace.search import published
from archspace.search.rundir import RunDir
from archspace.zoo import zoo_genotype


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return RunDir(make_run(tmp_path / "run", n=6, evaluator="proxy"))


@pytest.fixture
def evaluations(monkeypatch) -> list[str]:
    """Each evaluate_genotype call's genotype name, in order (the evaluation itself is faked)."""
    calls: list[str] = []

    def fake(run, genotype, seed=None, report=None):
        calls.append(genotype.name)
        return {"name": genotype.name, "score": float(len(calls))}

    monkeypatch.setattr(published, "evaluate_genotype", fake)
    return calls


def _edit_config(run: RunDir, replace: bool = False, **changes) -> None:
    path = run.path / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) and not replace else value
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _edit_meta(run: RunDir, **changes) -> None:
    path = run.path / "run.json"
    meta = json.loads(path.read_text())
    meta["eval"].update(changes)
    path.write_text(json.dumps(meta))


PROTOCOL_CHANGES = {
    "data": lambda run, mp: _edit_config(run, data={"name": "digits", "image_size": 24}),
    "data size": lambda run, mp: _edit_meta(run, image_size=24, num_classes=5),
    "evaluator config": lambda run, mp: _edit_config(run, evaluator={"batch_size": 32}),
    "evaluator kind": lambda run, mp: _edit_config(run, replace=True, evaluator={"kind": "train", "epochs": 1}),
    "seed": lambda run, mp: _edit_config(run, seed=7),
    "device kind": lambda run, mp: _edit_config(run, device="cuda:0"),
    "archspace version": lambda run, mp: mp.setattr("importlib.metadata.version", lambda name: "999.0"),
}


@pytest.mark.parametrize("change", PROTOCOL_CHANGES)
def test_a_published_row_is_reused_only_under_the_same_protocol(run, evaluations, monkeypatch, change):
    models = [("u_dwconv_micro", zoo_genotype("u_dwconv_micro"))]
    first = published.measure(run, models)
    assert published.measure(run, models) == first and len(evaluations) == 1  # same protocol: read from published.json
    PROTOCOL_CHANGES[change](run, monkeypatch)
    again = published.measure(run, models)
    assert len(evaluations) == 2 and again != first, f"a changed {change} reused the cached row"
    assert published.measure(run, models) == again and len(evaluations) == 2  # cached under the new key


def test_a_retrained_supernet_checkpoint_at_the_same_path_is_evaluated_again(run, evaluations, tmp_path):
    from archspace.supernet.checkpoint import CHECKPOINT

    folder = tmp_path / "supernet"
    folder.mkdir()
    (folder / CHECKPOINT).write_bytes(b"weights after training run 1")
    _edit_config(run, replace=True, evaluator={"kind": "supernet", "checkpoint": str(folder), "width_divisor": 2})
    models = [("u_dwconv_micro", zoo_genotype("u_dwconv_micro"))]
    published.measure(run, models)
    published.measure(run, models)
    assert len(evaluations) == 1  # the same checkpoint: read from published.json
    (folder / CHECKPOINT).write_bytes(b"weights after training run 2")  # retrained into the same folder
    published.measure(run, models)
    assert len(evaluations) == 2, "a retrained checkpoint reused the row rated with the old weights"


def _narrow_twice_as_much(monkeypatch) -> None:
    """A changed `narrow` (as a fix to it would be): every width divided by twice the divisor."""
    from archspace.genotype import scale

    original = scale.narrow
    monkeypatch.setattr(scale, "narrow", lambda genotype, divisor: original(genotype, 2 * divisor))


def test_a_published_row_is_evaluated_again_when_the_network_the_evaluator_builds_changes(run, evaluations, monkeypatch):
    models = [("u_dwconv_micro", zoo_genotype("u_dwconv_micro"))]
    published.measure(run, models)
    published.measure(run, models)
    assert len(evaluations) == 1
    _narrow_twice_as_much(monkeypatch)  # same config, same protocol key; another network is built
    published.measure(run, models)
    assert len(evaluations) == 2, "a row scored for the old network was reused"


def test_a_seed_replica_is_evaluated_again_when_the_network_the_evaluator_builds_changes(run, monkeypatch):
    from archspace.search import seeds

    calls: list[int] = []
    monkeypatch.setattr(published, "evaluate_genotype", lambda run, genotype, seed=None, report=None: calls.append(seed) or {"score": 0.5})
    models = [("u_dwconv_micro", zoo_genotype("u_dwconv_micro"))]
    seeds.replicate(run, models, 3)
    seeds.replicate(run, models, 3)
    assert len(calls) == 2  # seeds 1 and 2, once
    _narrow_twice_as_much(monkeypatch)
    seeds.replicate(run, models, 3)
    assert len(calls) == 4, "a replica scored for the old network was reused"


def test_a_supernet_without_a_readable_width_divisor_is_one_line(run, tmp_path):
    (tmp_path / "supernet").mkdir()
    _edit_config(run, replace=True, evaluator={"kind": "supernet", "checkpoint": str(tmp_path / "supernet")})
    with pytest.raises(ArchspaceError, match="width divisor"):
        published.built_id(run, zoo_genotype("u_dwconv_micro"))


def test_another_cuda_index_is_the_same_device_kind(run):
    _edit_config(run, device="cuda:0")
    key = published.protocol_key(run)
    _edit_config(run, device="cuda:1")
    assert published.protocol_key(run) == key
    assert published.device_kind("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_torch_files_are_written_and_read_by_one_pair(tmp_path):
    from archspace.weights.checkpoint import load_torch_checkpoint, save_torch_checkpoint

    state = {"w": torch.arange(6.0).reshape(2, 3), "meta": {"epochs": 2}}
    path = save_torch_checkpoint(tmp_path / "sub" / "model.pth", state)
    loaded = load_torch_checkpoint(path)
    assert torch.equal(loaded["w"], state["w"]) and loaded["meta"] == {"epochs": 2}
    assert [p.name for p in path.parent.iterdir()] == ["model.pth"]  # no temporary file left beside it


def test_a_corrupt_supernet_checkpoint_is_one_line_from_the_shared_loader(tmp_path):
    from archspace.supernet import checkpoint

    (tmp_path / checkpoint.CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(ArchspaceError, match=r"^supernet checkpoint: .* is not a readable torch checkpoint"):
        checkpoint.read(tmp_path)


def test_a_supernet_training_config_is_read_under_the_config_policy(tmp_path):
    from archspace.supernet.config import load_train_config

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [1, 2]\nb: *a\n")
    with pytest.raises(ArchspaceError, match=r"aliases \(\*a\) are not allowed"):
        load_train_config(bomb)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 1_100_000 + "\n")
    with pytest.raises(ArchspaceError, match="too large for a search config"):
        load_train_config(big)


def _stored_study(tmp_path: Path, config_text: str) -> str:
    """A journal storage holding a study with archspace's attributes, its config attribute set to `config_text`."""
    import optuna

    from archspace.search.rundir import open_storage
    from archspace.search.storage import CONFIG_ATTR, META_ATTR, SPACE_ATTR

    tmp_path.mkdir(parents=True, exist_ok=True)
    url = str(tmp_path / "shared.journal")
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    study.set_user_attr(CONFIG_ATTR, config_text)
    study.set_user_attr(META_ATTR, json.dumps({"seed": 0}))
    study.set_user_attr(SPACE_ATTR, "name: tiny\n")
    return url


def test_results_export_reads_the_stored_config_under_the_config_policy(tmp_path):
    from archspace.search.restore import export_run

    url = _stored_study(tmp_path, "name: tiny\nobjectives: [score]\n")
    run, _ = export_run(url, "s", tmp_path / "ok")
    assert yaml.safe_load((tmp_path / "ok" / "config.yaml").read_text())["space"] == str((tmp_path / "ok" / "space.yaml").resolve())
    bomb = _stored_study(tmp_path / "b", "a: &a [1, 2]\nb: *a\n")  # as a config file, an alias is refused
    with pytest.raises(ArchspaceError, match=r"^--study 's': archspace:config: not valid YAML: aliases \(\*a\) are not allowed"):
        export_run(bomb, "s", tmp_path / "bad")
    deep = _stored_study(tmp_path / "d", "a: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(ArchspaceError, match=r"^--study 's': archspace:config: .*nested more than 64 levels"):
        export_run(deep, "s", tmp_path / "deep")


def test_genotypes_and_configs_share_one_pydantic_error_formatter(tmp_path):
    from archspace.genotype.io import genotype_from_dict
    from archspace.search.config import config_from_dict

    data = json.loads((Path(__file__).parents[1] / "genotypes" / "resnet50.json").read_text())
    data["stages"][0]["channels"] = "many"
    with pytest.raises(ArchspaceError, match=r"^stages\[0\]\.channels: must be an integer, got a string 'many'$"):
        genotype_from_dict(data)
    with pytest.raises(ArchspaceError, match=r"^trials: must be an integer, got a string 'many'$"):
        config_from_dict({"name": "x", "space": "x.yaml", "objectives": ["score"], "trials": "many"})
    with pytest.raises(ArchspaceError, match=r"^evaluator\.colour: unknown field; known fields: kind, "):
        config_from_dict({"name": "x", "space": "x.yaml", "objectives": ["score"], "evaluator": {"colour": 1}})
    # pydantic's error list is read in one place only
    readers = [p.relative_to(Path(archspace_root())).as_posix() for p in Path(archspace_root()).rglob("*.py")
               if ".errors()" in p.read_text(encoding="utf-8")]
    assert readers == ["pydantic_errors.py"]


def archspace_root() -> Path:
    import archspace

    return Path(archspace.__file__).parent
