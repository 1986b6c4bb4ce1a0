import pytest
import torch

from percept.train.networks import SRNet, TransformNet, build_network
from percept.train.sizing import pad_to_multiple, padded_size, run_padded
from tests.conftest import devices


@pytest.mark.parametrize("norm", ["instance", "batch"])
@pytest.mark.parametrize("upsample", ["resize-conv", "transposed"])
def test_transform_net_keeps_size_on_multiples(norm, upsample):
    net = TransformNet(norm=norm, upsample=upsample).eval()
    x = torch.rand(2, 3, 32, 48)
    y = net(x)
    assert y.shape == x.shape
    assert y.min() >= 0 and y.max() <= 1


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("hw", [(30, 45), (33, 17), (5, 7)])
def test_transform_net_any_size_through_size_rule(device, hw):
    net = TransformNet().eval().to(device)
    x = torch.rand(1, 3, *hw, device=device)
    with torch.no_grad():
        y = run_padded(net, x)
    assert y.shape == x.shape
    # The raw net does not keep a non-multiple size: padding really is needed.
    if hw[0] % net.size_rule:
        with torch.no_grad():
            assert net(x).shape[-2:] != x.shape[-2:]


@pytest.mark.parametrize("scale", [4, 8])
@pytest.mark.parametrize("upsample", ["pixel-shuffle", "resize-conv", "transposed"])
def test_srnet_scales(scale, upsample):
    net = SRNet(scale=scale, upsample=upsample).eval()
    for hw in [(8, 12), (7, 5), (3, 3)]:
        x = torch.rand(2, 3, *hw)
        with torch.no_grad():
            y = run_padded(net, x)
        assert y.shape == (2, 3, hw[0] * scale, hw[1] * scale)
        assert y.min() >= 0 and y.max() <= 1


def test_size_rule_padding_helpers():
    assert padded_size(30, 4) == 32 and padded_size(32, 4) == 32 and padded_size(1, 4) == 4
    x = torch.arange(3 * 5, dtype=torch.float32).view(1, 1, 3, 5)
    p, (h, w) = pad_to_multiple(x, 4)
    assert p.shape[-2:] == (4, 8) and (h, w) == (3, 5)
    assert torch.equal(p[..., :3, :5], x)  # original content untouched
    tiny = torch.rand(1, 3, 1, 1)
    assert pad_to_multiple(tiny, 4)[0].shape[-2:] == (4, 4)


def test_without_the_exposure_path_a_style_net_paints_a_dark_photo_as_bright_as_a_light_one():
    """Instance norm after the first convolution discards overall brightness: the paper's net gives a photo and
    its darkened copy the same output (a night photo lifted to noon). The exposure path lets them differ, and it
    adds the photo's mean colour only: the same everywhere, so no part of the photo shows through."""
    torch.manual_seed(0)
    photo = torch.rand(1, 3, 32, 32) * 0.6 + 0.3
    dark = photo * 0.3
    paper = TransformNet().eval()
    with torch.no_grad():
        assert (paper(photo) - paper(dark)).abs().max() < 1e-3
        net = TransformNet(exposure_path=True).eval()
        net.load_state_dict(paper.state_dict() | {k: v for k, v in net.state_dict().items() if "exposure" in k})
        # a new net's path starts as (mean − ½): the darkened photo comes out darker from the first step
        assert net(dark).mean() < net(photo).mean() - 0.05
        # pre-activation, the two nets differ by one colour per picture, whatever its pixels
        shift = torch.atanh(net(photo) * 2 - 1) - torch.atanh(paper(photo) * 2 - 1)
        expected = photo.mean(dim=(2, 3)) - 0.5
        assert torch.allclose(shift, expected[:, :, None, None].expand_as(shift), atol=2e-3)
    assert build_network(net.config()).config() == {**paper.config(), "exposure_path": True}


def test_build_network_round_trip_and_errors():
    for net in (TransformNet(norm="batch", upsample="transposed"), SRNet(scale=8, global_skip=False),
                TransformNet(exposure_path=True)):
        again = build_network(net.config())
        assert type(again) is type(net) and again.config() == net.config()
    with pytest.raises(ValueError, match="unknown architecture"):
        build_network({"arch": "Nope"})
    with pytest.raises(ValueError, match="bad options"):
        build_network({"arch": "SRNet", "colour": 1})
    with pytest.raises(ValueError):
        SRNet(scale=3)
