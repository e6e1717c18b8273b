"""Raw training checkpoints (timm's CheckpointSaver: state_dict, optimizer, argparse.Namespace args, metric) load
without running code from the file; a checkpoint pickling anything else names it; garbage says it is no checkpoint."""
from __future__ import annotations

import argparse
import pathlib

import numpy as np
import pytest
import torch
from timm.utils import CheckpointSaver
from torch import nn

from archspace.errors import ArchspaceError
from archspace.probe.models import load_state_dict
from archspace.weights.convert import load_checkpoint_state_dict


def _trained(tmp_path) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_timm_checkpoint_saver_file_loads(tmp_path):
    model, optimizer = _trained(tmp_path)
    args = argparse.Namespace(model="u_swin_micro", lr=1e-3, mean=(0.485, 0.456, 0.406), aa=None, epochs=3, data_dir="/data")
    saver = CheckpointSaver(model, optimizer, args=args, checkpoint_dir=str(tmp_path), recovery_dir=str(tmp_path), max_history=1)
    saver.save_checkpoint(epoch=0, metric=0.5)
    path = tmp_path / "last.pth.tar"
    state = load_checkpoint_state_dict(path)
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert load_state_dict(path).keys() == model.state_dict().keys()


def test_stm_style_checkpoint_with_numpy_metric_loads(tmp_path):
    model, optimizer = _trained(tmp_path)
    path = tmp_path / "checkpoint-best.pth"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3, "args": argparse.Namespace(lr=4e-3, input_size=224),
                "max_accuracy": np.float64(81.2)}, path)
    assert load_checkpoint_state_dict(path).keys() == model.state_dict().keys()


def test_a_checkpoint_pickling_other_classes_names_them(tmp_path):
    model, _ = _trained(tmp_path)
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": model.state_dict(), "args": argparse.Namespace(output=pathlib.PurePosixPath("/runs"))}, path)
    with pytest.raises(ArchspaceError) as info:
        load_checkpoint_state_dict(path)
    message = str(info.value)
    assert "pickles pathlib.PurePosixPath" in message and "re-save the state_dict alone" in message and "\n" not in message
    with pytest.raises(ArchspaceError, match="pickles pathlib.PurePosixPath"):
        load_state_dict(path)


def test_garbage_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"\x80\x02not a checkpoint" * 10)
    with pytest.raises(ArchspaceError, match="is not a readable torch checkpoint") as info:
        load_checkpoint_state_dict(path)
    assert "pickles" not in str(info.value)
