"""Batch augmentation: per image, reproducible from its seed, exact where it claims to be."""
import pytest
import torch

from training.augment import NO_AUGMENT, AugmentConfig, augment_batch


def batch(n=8, c=1, s=32):
    return torch.rand(n, c, s, s, generator=torch.Generator().manual_seed(0))


def test_same_seed_same_pixels_other_seed_other_pixels():
    x = batch()
    a = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(5))
    b = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(5))
    c = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1


def test_images_of_a_batch_are_transformed_independently():
    x = batch(16).expand(16, -1, -1, -1)[:1].repeat(16, 1, 1, 1)  # 16 copies of one image
    out = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(1))
    assert len({tuple(o.flatten()[:50].tolist()) for o in out}) > 8


def test_orientations_alone_only_permute_pixels():
    """Flips and quarter turns are exact: no resampling, the same multiset of values."""
    x = batch(32, c=3)
    cfg = AugmentConfig(affine_p=0, brightness=0, contrast=0, gamma=0, blur_p=0, noise_p=0)
    out = augment_batch(x, cfg, torch.Generator().manual_seed(2))
    for a, b in zip(x, out):
        assert torch.equal(a.flatten().sort().values, b.flatten().sort().values)
        dihedral = [torch.rot90(t, k, (-2, -1)) for t in (a, a.flip(-1)) for k in range(4)]
        assert any(torch.equal(b, d) for d in dihedral)


def test_no_augment_is_the_identity():
    x = batch()
    assert torch.equal(augment_batch(x, NO_AUGMENT, torch.Generator().manual_seed(0)), x)


def test_photometric_changes_keep_the_image_recognisable():
    x = batch(8)
    cfg = AugmentConfig(dihedral=False, affine_p=0)
    out = augment_batch(x, cfg, torch.Generator().manual_seed(3))
    corr = [torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1] for a, b in zip(x, out)]
    assert min(corr) > 0.8


@pytest.mark.parametrize("bad", [{"affine_p": 1.5}, {"noise_std": -1.0}, {"scale": 1.0}, {"gamma": float("nan")}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        AugmentConfig(**bad)
