"""archspace probe: ERF, invariance, FGSM, throughput, probe_metric and the CLI, with known answers."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from archspace.cli import main
from archspace.errors import ArchspaceError
from archspace.probe.data import load_digits_images, normalize
from archspace.probe.erf import erf, erf_side, gradient_maps, stage_outputs
from archspace.probe.fgsm import attack_sign, fgsm, fgsm_images
from archspace.probe.invariance import default_values, shift, sweep, translate
from archspace.probe.metrics import metric_direction, probe_metric, probe_metrics
from archspace.probe.models import at_image_size, build_probe_model, resolve_genotype
from archspace.probe.throughput import parse_pairs, throughput


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: the analyses run many small forwards, which extra threads only slow down on a shared CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def positive_conv(k: int, c_in: int = 3, c_out: int = 4) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2)
    with torch.no_grad():
        conv.weight.copy_(torch.rand_like(conv.weight) + 0.1)
        conv.bias.zero_()
    return conv


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_erf_of_one_conv_is_its_kxk_footprint(k):
    conv, size = positive_conv(k), 15
    (grad_map,) = gradient_maps(lambda x: [conv(x)], torch.rand(3, 3, size, size) + 0.1)
    support = (grad_map > 0).nonzero()
    c = size // 2
    assert support[:, 0].min() == c - k // 2 and support[:, 0].max() == c + k // 2
    assert support[:, 1].min() == c - k // 2 and support[:, 1].max() == c + k // 2
    assert len(support) == k * k  # every tap of the footprint contributes, nothing outside it
    assert erf_side(grad_map, 1.0) == pytest.approx(k / size)


def test_erf_of_stacked_convs_grows_to_the_summed_footprint():
    a, b = positive_conv(3, 3, 4), positive_conv(5, 4, 4)
    first, second = erf(lambda x: [a(x), b(a(x))], torch.rand(2, 3, 21, 21) + 0.1)
    assert first.sides[0.99] <= 3 / 21 and erf_side(second.map, 1.0) == pytest.approx(7 / 21)
    assert first.erf50 < second.erf50


def test_erf_side_known_answers():
    delta = torch.zeros(15, 15)
    delta[7, 7] = 1
    assert erf_side(delta, 0.5) == pytest.approx(1 / 15)
    uniform = torch.ones(15, 15)  # 9x9 holds 81/225 < 50%, 11x11 holds 121/225 >= 50%
    assert erf_side(uniform, 0.5) == pytest.approx(11 / 15)
    assert erf_side(uniform, 1.0) == 1.0


def test_detached_input_is_refused():
    conv = positive_conv(3)
    x = torch.rand(2, 3, 9, 9)
    with pytest.raises(ArchspaceError, match="stage 1 output does not depend on the input"):
        gradient_maps(lambda inp: [conv(inp.detach())], x)
    with pytest.raises(ArchspaceError, match="detaches"), torch.no_grad():
        gradient_maps(lambda inp: [conv(inp)], x)
    dead = nn.Conv2d(3, 4, 3, padding=1)
    nn.init.zeros_(dead.weight)
    with pytest.raises(ArchspaceError, match="zero gradient map"):
        gradient_maps(lambda inp: [dead(inp)], x)


class CircularDWNet(nn.Module):
    """Pointwise conv then circularly padded depthwise convs: exactly equivariant to circular shifts."""

    def __init__(self, padding_mode: str = "circular", c: int = 8, classes: int = 5):
        super().__init__()
        self.num_classes = classes
        self.stem = nn.Conv2d(3, c, 1)
        self.body = nn.Sequential(*(nn.Sequential(nn.Conv2d(c, c, 5, padding=2, groups=c, padding_mode=padding_mode), nn.GELU()) for _ in range(3)))
        self.fc = nn.Linear(c, classes)

    def forward_features(self, x):
        return self.body(self.stem(x))

    def forward_head(self, x, pre_logits: bool = False):
        x = x.mean((2, 3))
        return x if pre_logits else self.fc(x)

    def get_classifier(self):
        return self.fc

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def test_circular_dwconv_net_is_invariant_to_circular_shifts():
    images = torch.rand(8, 3, 16, 16)
    net = CircularDWNet().eval()
    curve = sweep(net, images, "translation", [0, 1, 3, 7], wrap=True)
    assert max(1 - c for c in curve.cosine) < 1e-9 and curve.agreement == [1.0] * 4
    with torch.no_grad():
        pooled = net.forward_head(net.forward_features(images), pre_logits=True)
        rolled = net.forward_head(net.forward_features(translate(images, 5, wrap=True)), pre_logits=True)
    assert torch.allclose(pooled, rolled, rtol=1e-5, atol=1e-6)
    zero_padded = sweep(CircularDWNet("zeros").eval(), images, "translation", [3, 7], wrap=True)  # the borders break it
    assert max(1 - c for c in zero_padded.cosine) > 1e-7


def test_translate_moves_each_image_in_its_direction():
    img = torch.zeros(8, 1, 9, 9)
    img[:, :, 4, 4] = 1
    moved = translate(img, 2)
    where = [tuple(int(v) for v in (m[0] == 1).nonzero()[0]) for m in moved]
    assert where == [(6, 4), (4, 6), (2, 4), (4, 2), (6, 6), (2, 6), (2, 2), (6, 2)]
    assert shift(img, 9, 0).sum() == 0 and shift(img, 9, 0, wrap=True).sum() == img.sum()


def test_default_sweeps_follow_the_paper():
    assert default_values("translation", 224) == [0, 8, 16, 24, 32, 40, 48, 56, 64]
    assert default_values("rotation", 224)[-1] == 45 and default_values("scale", 224) == [s / 4 for s in range(1, 13)]
    with pytest.raises(ValueError, match="transform"):
        default_values("shear", 224)


def test_fgsm_eps_zero_gives_clean_accuracy_and_steps_stay_in_range():
    model = CircularDWNet(classes=3).eval()
    images, labels = torch.rand(12, 3, 8, 8), torch.randint(0, 3, (12,))
    result = fgsm(model, images, labels, (0.0, 8.0), batch=5)
    assert result.adversarial[0.0] == result.clean
    with torch.no_grad():
        assert result.clean == pytest.approx(float((model(images).argmax(1) == labels).float().mean()))
    adv = fgsm_images(images, attack_sign(model, images, labels), 8 / 255)
    assert (adv - images).abs().max() <= 8 / 255 + 1e-7 and adv.min() >= 0 and adv.max() <= 1


def test_fgsm_lowers_a_linear_models_confidence_in_the_true_class():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2)).eval()
    images, labels = torch.rand(6, 3, 4, 4) * 0.5 + 0.25, torch.randint(0, 2, (6,))
    adv = fgsm_images(images, attack_sign(model, images, labels), 8 / 255)
    with torch.no_grad():
        before = model(images).log_softmax(1).gather(1, labels[:, None])
        after = model(adv).log_softmax(1).gather(1, labels[:, None])
    assert (after < before).all()


def test_digits_are_real_deterministic_images():
    a = load_digits_images(16, 3, 10, seed=1)
    b = load_digits_images(16, 3, 10, seed=1)
    assert a.images.shape == (10, 3, 16, 16) and a.num_classes == 10
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert 0 <= float(a.images.min()) and float(a.images.max()) <= 1 and a.images.std() > 0.1
    assert torch.equal(a.images[:, 0], a.images[:, 2])
    assert load_digits_images(16, 1, 4).images.shape == (4, 1, 16, 16)
    assert normalize(torch.zeros(1, 1, 2, 2)).shape == (1, 1, 2, 2)


def test_probe_data_reads_the_generated_task_test_split():
    from archspace.evaluate.tasks import TASKS, generate
    from archspace.probe.data import load_probe_data

    data = load_probe_data("digit_lookup", 32, 3, 8, seed=0)
    images, labels, _ = generate(TASKS["digit_lookup"])["test"]
    assert data.images.shape == (8, 3, 32, 32) and data.num_classes == 10 and data.name == "digit_lookup"
    first = int(torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))[0])
    assert torch.equal(data.images[0], torch.from_numpy(images[first]).float() / 255) and int(data.labels[0]) == labels[first]
    assert load_probe_data("digit_lookup", 16, 1, 2).images.shape == (2, 1, 16, 16)


def test_windowed_models_are_adapted_to_a_smaller_size():
    """Swin windows and Halo blocks follow the smaller maps (archspace.genotype.adapt), so U-models probe at 64 px."""
    for name in ("u_swin_micro", "u_halonet_micro"):
        g = at_image_size(resolve_genotype(name), 64, num_classes=10)
        assert (g.image_size, g.num_classes) == (64, 10)
        assert build_probe_model(g)(torch.rand(1, 3, 64, 64)).shape == (1, 10)
    assert at_image_size(resolve_genotype("u_swin_micro"), 224) == resolve_genotype("u_swin_micro")


def test_genotype_that_does_not_fit_the_size_is_refused_in_one_line():
    with pytest.raises(ArchspaceError, match=r"image_size: u_swin_micro does not fit 4x4: image_size: must be an integer >= 8"):
        at_image_size(resolve_genotype("u_swin_micro"), 4)


@pytest.fixture(scope="module")
def small_net():
    return build_probe_model(at_image_size(resolve_genotype("u_dwconv_micro"), 32, num_classes=10))


def test_probe_metric_names_and_determinism(small_net):
    data = load_digits_images(32, 3, 4)
    erf50 = probe_metric("erf50", small_net, data.images, data.labels)
    assert 0 < erf50 <= 1 and erf50 == probe_metric("erf50", small_net, data.images, data.labels)
    assert probe_metric("erf50_stage1", small_net, data.images) < erf50
    assert probe_metric("fgsm_acc@0/255", small_net, data.images, data.labels) == probe_metric("clean_acc", small_net, data.images, data.labels)
    assert 0 <= probe_metric("invariance_rotation", small_net, data.images) <= 1
    assert -1 <= probe_metric("invariance_scale_cos", small_net, data.images) <= 1
    both = probe_metrics(["clean_acc", "erf50_stage1"], small_net, data.images, data.labels)
    assert set(both) == {"clean_acc", "erf50_stage1"} and metric_direction("fgsm_acc@2/255") == "maximize" and metric_direction("erf50") == "either"
    with pytest.raises(ArchspaceError, match="unknown probe metric"):
        probe_metric("erf", small_net, data.images)
    with pytest.raises(ArchspaceError, match="needs labels"):
        probe_metric("fgsm_acc@2/255", small_net, data.images)


def test_throughput_measures_and_skips_sizes_that_do_not_fit():
    (point,) = throughput(resolve_genotype("u_dwconv_micro"), [(32, 1)], min_run_time=0.01, warmup=1)
    assert point.images_per_s > 0 and point.fingerprint["threads"] == 1 and point.skipped is None
    (skipped,) = throughput(resolve_genotype("u_swin_micro"), [(4, 1)], min_run_time=0.01)
    assert skipped.images_per_s is None and "image_size" in skipped.skipped
    assert parse_pairs("256:128,512:32") == ((256, 128), (512, 32))
    with pytest.raises(ArchspaceError, match="pairs"):
        parse_pairs("256x128")


def test_cli_json_tables_and_plots(tmp_path, capsys):
    out = tmp_path / "probe"
    args = ["probe", "u_dwconv_micro", "u_internimage_micro", "--image-size", "32", "--images", "4", "--erf", "--invariance", "--fgsm"]
    assert main([*args, "--json", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [m["model"] for m in report["models"]] == ["u_dwconv_micro", "u_internimage_micro"]
    first = report["models"][0]
    assert len(first["erf"]) == 4 and set(first["invariance"]) == {"translation", "rotation", "scale"}
    assert set(first["fgsm"]["adversarial_acc"]) == {"0.5/255", "2/255", "8/255"}
    for name in ("erf_maps.png", "erf50.png", "invariance.png", "fgsm.png", "summary.md", "probe.json"):
        assert (out / name).stat().st_size > 0, name
    assert "| u_internimage_micro |" in (out / "summary.md").read_text()


def test_cli_weights_round_trip_and_refusal(tmp_path, capsys, small_net):
    ckpt = tmp_path / "w.pt"
    torch.save({"state_dict": small_net.state_dict()}, ckpt)
    args = ["probe", "u_dwconv_micro", "--image-size", "32", "--images", "4", "--erf", "--json"]
    assert main([*args, "--weights", str(ckpt)]) == 0
    loaded = json.loads(capsys.readouterr().out)["models"][0]
    assert loaded["weights"] == str(ckpt) and loaded["num_classes"] == 10
    imagenet = tmp_path / "imagenet.pt"  # a 1000-class head: accuracies on digits would mean nothing
    torch.save(build_probe_model(at_image_size(resolve_genotype("u_dwconv_micro"), 32)).state_dict(), imagenet)
    assert main(["probe", "u_dwconv_micro", "--image-size", "32", "--images", "4", "--fgsm", "--json", "--weights", str(imagenet)]) == 0
    foreign = json.loads(capsys.readouterr().out)["models"][0]
    assert foreign["num_classes"] == 1000 and foreign["fgsm"] is None and "10 classes" in foreign["skipped"]["accuracy"]
    assert main(["probe", "u_pvt_micro", "--image-size", "32", "--images", "4", "--erf", "--weights", str(ckpt)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress line
    assert err.startswith("archspace: error: weights:") and "does not fit" in err and "Traceback" not in err


@pytest.mark.parametrize("args, field", [
    (["nope_model"], "no zoo genotype 'nope_model'"),
    (["u_swin_micro", "--image-size", "4"], "image_size: u_swin_micro does not fit 4x4"),
    (["u_dwconv_micro", "--weights", "missing.pt"], "--weights: missing.pt not found"),
    (["u_dwconv_micro", "--data", "no/such/folder"], "--data: no/such/folder"),
    (["u_dwconv_micro", "--images", "0"], "--images: must be at least 1"),
    (["u_dwconv_micro", "--throughput", "--pairs", "224"], "pairs: expected RESOLUTION:BATCH"),
])
def test_cli_bad_input_is_one_line(args, field, capsys):
    code = main(["probe", *args])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and field in lines[0] and "Traceback" not in err


def test_erf_of_a_network_has_a_map_per_stage_and_is_deterministic(small_net):
    x = normalize(load_digits_images(32, 3, 4).images)
    first, again = erf(stage_outputs(small_net), x, batch=3), erf(stage_outputs(small_net), x)
    assert [s.stage for s in first] == [1, 2, 3, 4] and all(s.map.shape == (32, 32) for s in first)
    assert all(torch.allclose(a.map, b.map, rtol=1e-5) and a.sides == b.sides for a, b in zip(first, again))
    assert [s.erf50 for s in first] == sorted(s.erf50 for s in first)  # near-identity blocks: the stride-2 skeleton grows it


def test_cli_without_out_says_no_plots_were_written(capsys):
    args = ["probe", "u_dwconv_micro", "--image-size", "32", "--images", "4", "--erf"]
    assert main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("no plots written") and "--out DIR" in out[-1]
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout stays the JSON alone
    assert "no plots written" in captured.err and "--out DIR" in captured.err
