import pytest
import torch

from percept.train.losses import gram_matrix, squared_error, style_loss, total_variation


def test_feature_loss_zero_for_self_and_grows_with_noise(vgg):
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 64)
    f = vgg(x, ["relu2_2"])["relu2_2"]
    assert squared_error(f, f).item() == 0.0
    losses = [squared_error(vgg((x + s * torch.randn_like(x)).clamp(0, 1), ["relu2_2"])["relu2_2"], f).item()
              for s in (0.01, 0.05, 0.2)]
    assert 0 < losses[0] < losses[1] < losses[2]


def test_feature_loss_hand_computed():
    a = torch.zeros(1, 2, 1, 2)
    b = torch.tensor([[[[1.0, 2.0]], [[0.0, 3.0]]]])
    # ||a-b||² = 1 + 4 + 0 + 9 = 14, C·H·W = 4
    assert squared_error(a, b).item() == pytest.approx(14 / 4)


def test_gram_hand_computed_and_symmetric():
    # C=2, H=1, W=2: psi = [[1,2],[3,4]] -> psi psi^T = [[5,11],[11,25]], / (2*1*2)
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    g = gram_matrix(f)
    assert torch.allclose(g, torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4)
    r = gram_matrix(torch.randn(3, 8, 5, 7))
    assert r.shape == (3, 8, 8)
    assert torch.allclose(r, r.transpose(1, 2))


def test_style_loss_hand_computed_and_broadcast():
    g1 = {"a": torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]), "b": torch.zeros(1, 1, 1)}
    g2 = {"a": torch.tensor([[[0.0, 0.0], [0.0, 3.0]]]), "b": torch.ones(1, 1, 1)}
    # layer a: 1 + 4 = 5; layer b: 1
    assert style_loss(g1, g2).item() == pytest.approx(6.0)
    batch = {"a": g1["a"].repeat(4, 1, 1), "b": g1["b"].repeat(4, 1, 1)}
    assert style_loss(batch, g2).item() == pytest.approx(6.0)  # mean over batch, target broadcast


def test_tv_hand_computed_and_constant_is_zero():
    assert total_variation(torch.full((2, 3, 9, 9), 0.7)).item() == 0.0
    x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    # dx: (1-0)² + (4-2)² = 5; dy: (2-0)² + (4-1)² = 13
    assert total_variation(x).item() == pytest.approx(18.0)


def test_flat_region_anchor_ignores_strokes_and_palettes_but_not_a_flipped_sky():
    from percept.train.losses import flat_region_anchor

    sky = torch.full((1, 3, 64, 64), 0.85)
    strokes = (sky + 0.2 * torch.sin(torch.arange(64.0))[None, None, None, :]).clamp(0, 1)
    palette = sky * torch.tensor([0.6, 0.8, 1.0]).view(1, 3, 1, 1)  # bluer and darker: ΔY ≈ 0.2
    assert flat_region_anchor(strokes, sky) == 0 and flat_region_anchor(palette, sky) == 0
    blob = sky.clone().requires_grad_(True)
    with torch.no_grad():
        blob[..., 8:24, 8:24] = 0.0  # a black disc in a bright sky: ΔY 0.85 over 1/16 of the image
    loss = flat_region_anchor(blob, sky)
    assert abs(float(loss) - (0.85 - 0.25) ** 2 / 16) < 1e-4
    loss.backward()
    assert blob.grad[..., 8:24, 8:24].sum() < 0 and blob.grad[..., 40:, 40:].abs().sum() == 0  # push it back up


def test_colour_anchor_catches_a_hue_blob_the_brightness_anchor_misses():
    from percept.train.losses import flat_region_anchor

    snow = torch.full((1, 3, 64, 64), 0.95)
    cyan = snow.clone()
    cyan[:, 0, 8:24, 8:24] = 0.45  # a cyan patch on white snow: R drops 0.5, brightness only 0.15
    assert flat_region_anchor(cyan, snow) == 0  # within the brightness margin
    assert abs(float(flat_region_anchor(cyan, snow, color=True)) - (0.5 - 0.25) ** 2 / 16 / 3) < 1e-4
    palette = snow * torch.tensor([0.8, 0.9, 1.0]).view(1, 3, 1, 1)  # a tint within the margin stays free
    assert flat_region_anchor(palette, snow, color=True) == 0


def test_flipped_cells_counts_blobs_not_colour_changes():
    from percept.train.style_metrics import flipped_cells

    photo = torch.rand(1, 3, 64, 64) * 0.1 + 0.5  # 16 cells of 16×16
    assert flipped_cells(photo * torch.tensor([0.7, 1.0, 0.8]).view(1, 3, 1, 1), photo) == 0
    blobbed = photo.clone()
    blobbed[..., :16, :32] = 1.0  # two white cells
    blobbed[..., 48:, 48:] = 0.0  # one black cell
    assert abs(flipped_cells(blobbed, photo) - 3 / 16) < 1e-6


def test_tiled_gram_sees_a_flat_region_the_global_gram_forgives():
    """Texture moved out of one quarter into the others keeps the global Gram, not the per-region ones:
    the tiled style term is what makes a flat sky (or a blob in it) cost something."""
    from percept.train.losses import tiled_gram_matrix

    torch.manual_seed(0)
    texture = torch.randn(1, 8, 16, 16)
    assert torch.allclose(tiled_gram_matrix(texture, 2).mean(0), gram_matrix(texture)[0], atol=1e-6)
    assert torch.equal(tiled_gram_matrix(texture, 1), gram_matrix(texture))
    moved = texture.clone()
    moved[..., :8, :8] = 0  # a flat quarter...
    moved[..., 8:, :] *= (4 / 3) ** 0.5  # ...with its energy spread over the rest
    moved[..., :8, 8:] *= (4 / 3) ** 0.5
    target = {"l": gram_matrix(texture)}
    flat_global = style_loss({"l": gram_matrix(moved)}, target)
    flat_tiled = style_loss({"l": tiled_gram_matrix(moved, 2)}, target)
    even_tiled = style_loss({"l": tiled_gram_matrix(texture, 2)}, target)
    assert flat_tiled > 5 * flat_global and flat_tiled > 3 * even_tiled


def test_palette_loss_sees_colours_the_painting_never_uses():
    """A patch of white in a picture painted only in reds and blues costs; the painting itself costs nothing,
    and the same colours in another arrangement cost nothing either (it is a distribution, not a layout)."""
    from percept.train.losses import palette_directions, palette_loss, sorted_palette

    g = torch.Generator().manual_seed(0)
    painting = torch.rand(1, 3, 32, 32, generator=g) * torch.tensor([0.9, 0.2, 0.7]).view(1, 3, 1, 1)
    dirs = palette_directions()
    palette = sorted_palette(painting, dirs)
    assert palette_loss(painting, palette, dirs) < 1e-10
    shuffled = painting.flatten(2)[..., torch.randperm(32 * 32, generator=g)].view(1, 3, 32, 32)
    assert palette_loss(shuffled, palette, dirs) < 1e-10
    blob = painting.clone()
    blob[..., 8:16, 8:16] = 1.0  # 6 % of the pixels turned white
    assert palette_loss(blob, palette, dirs) > 1e-3
    blob.requires_grad_(True)
    palette_loss(blob, palette, dirs).backward()
    assert blob.grad[..., 8:16, 8:16].abs().sum() > 10 * blob.grad[..., 20:28, 20:28].abs().sum()


def test_grid_loss_prices_the_sub_pixel_pattern_and_nothing_else():
    """A ×4 cross-hatch (an error that repeats every 4 pixels) costs; the same amount of error spread evenly
    over the phases (a brightness shift, smooth noise at block scale) costs nothing."""
    from percept.train.losses import grid_loss

    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 32)
    shift = hr + 0.02
    blocky = hr + torch.nn.functional.interpolate(torch.randn(2, 3, 8, 8) * 0.02, scale_factor=4, mode="nearest")
    hatch = torch.zeros(1, 1, 4, 4)
    hatch[..., ::2, ::2], hatch[..., 1::2, 1::2] = 0.02, -0.02
    hatched = hr + hatch.repeat(2, 3, 8, 8)
    assert grid_loss(shift, hr, 4) < 1e-12 and grid_loss(blocky, hr, 4) < 1e-12
    assert grid_loss(hatched, hr, 4) > 1e-4


def test_spike_penalty_charges_a_droplet_not_texture():
    """Instance-norm inputs with Gaussian texture cost nothing; the same map with a few-pixel spike (the
    droplet that steers a layer's statistics) costs, and the monitor sees every instance norm of a network."""
    from percept.train.networks import TransformNet
    from percept.train.norm_spikes import SpikeMonitor, largest_spike, spike_penalty

    torch.manual_seed(0)
    texture = torch.randn(2, 8, 64, 64)
    assert spike_penalty([texture]).item() == 0.0
    droplet = texture.clone()
    droplet[0, 3, 30:33, 30:33] = 60.0  # 9 pixels of one channel
    assert spike_penalty([droplet]).item() > 0.01 and largest_spike([droplet]) > 20 > 6 > largest_spike([texture])
    net = TransformNet()
    with SpikeMonitor(net) as monitor:
        net(torch.rand(1, 3, 32, 32))
    assert len(monitor.inputs) == len([m for m in net.modules() if isinstance(m, torch.nn.InstanceNorm2d)]) == 15
    net(torch.rand(1, 3, 32, 32))
    assert len(monitor.inputs) == 15  # hooks removed on exit
    with pytest.raises(ValueError, match="instance norms"):
        spike_penalty([])


def test_a_higher_spike_threshold_spares_sparse_strokes_but_still_charges_a_droplet():
    """--spike-z: a thin line of strong response (a stroke, |z| ~ 7 on a 64² map) costs at the default
    threshold of 6 but not at 12; a droplet (|z| > 20) costs at both."""
    from percept.train.norm_spikes import spike_penalty, z_scores

    torch.manual_seed(0)
    stroke = torch.randn(1, 4, 64, 64)
    stroke[0, 1, 32, 10:50] = 10.0  # a 40-pixel line in one channel
    assert 7 < z_scores(stroke).abs().max() < 12
    assert spike_penalty([stroke], 6.0).item() > 0 and spike_penalty([stroke], 12.0).item() == 0.0
    droplet = torch.randn(1, 4, 64, 64)
    droplet[0, 2, 30:33, 30:33] = 60.0
    assert spike_penalty([droplet], 12.0).item() > 0.01


def test_grid_loss_over_the_whole_patch_spares_an_edge_a_pixel_off_but_not_a_hatch():
    """Small blocks price a sharp edge drawn one pixel off (its error sits on one phase), which pulls a
    feature-loss model towards blur; averaged over the whole patch that edge costs far less, the hatch as much."""
    from percept.train.losses import grid_loss

    y, x = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    hr = (((x - 31.3) ** 2 + (y - 30.7) ** 2) < 20**2).float()[None, None]  # a disc's round edge
    edge_off = (((x - 32.3) ** 2 + (y - 30.7) ** 2) < 20**2).float()[None, None]  # one pixel to the right
    hatch = torch.zeros(1, 1, 4, 4)
    hatch[..., ::2, ::2], hatch[..., 1::2, 1::2] = 0.02, -0.02
    hatched = hr + hatch.repeat(1, 1, 16, 16)
    assert grid_loss(edge_off, hr, 4, window=0) < 0.1 * grid_loss(edge_off, hr, 4, window=4)
    assert torch.isclose(grid_loss(hatched, hr, 4, window=0), grid_loss(hatched, hr, 4, window=4))


def test_speckle_loss_charges_noise_on_flat_areas_not_blur_or_the_truths_own_texture():
    """A feature-loss SR model's speckle on a flat sky costs; the truth itself, a blurred copy of it, and the
    truth's texture drawn a few pixels off (detail as strong as the truth's, not where it is) cost (next to) nothing."""
    from percept.train.losses import speckle_loss

    torch.manual_seed(0)
    hr = torch.full((1, 3, 64, 64), 0.5)
    hr[..., :, 32:] = 0.5 + 0.05 * torch.randn(1, 3, 64, 32)  # left half flat, right half textured
    speckled = hr.clone()
    speckled[..., :, :24] += 0.02 * torch.randn(1, 3, 64, 24)  # a faint speckle on the flat half only
    blurred = torch.nn.functional.avg_pool2d(hr, 3, stride=1, padding=1, count_include_pad=False)
    shifted = hr.clone()
    shifted[..., :, 34:] = hr[..., :, 32:62].roll(2, dims=-2)  # the texture moved 2 px right and 2 px down
    assert speckle_loss(hr, hr) == 0 and speckle_loss(blurred, hr) < 1e-6
    assert speckle_loss(speckled, hr) > 10 * speckle_loss(shifted, hr)


def test_blur_loss_charges_a_blurred_output_not_texture_drawn_a_few_pixels_off():
    """The counterpart of the speckle term: a blurred copy of a textured truth costs; the truth, its texture
    a few pixels off, and anything on a flat truth cost nothing."""
    from percept.train.losses import blur_loss

    torch.manual_seed(0)
    hr = torch.full((1, 3, 64, 64), 0.5)
    hr[..., :, 32:] = 0.5 + 0.05 * torch.randn(1, 3, 64, 32)
    blurred = torch.nn.functional.avg_pool2d(hr, 3, stride=1, padding=1, count_include_pad=False)
    shifted = hr.clone()
    shifted[..., :, 34:] = hr[..., :, 32:62].roll(2, dims=-2)
    flat_changed = hr.clone()
    flat_changed[..., :, :24] = 0.3
    assert blur_loss(hr, hr) == 0 and blur_loss(flat_changed, hr) == 0
    assert blur_loss(blurred, hr) > 1e-3 and blur_loss(shifted, hr) < 0.01 * blur_loss(blurred, hr)
