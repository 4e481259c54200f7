"""pix2pix on the `scenes` digit scenes: the same label map → image task as `spade_scenes`, for a side-by-side.

  python scripts/train.py --config=jaxgan/configs/pix2pix_scenes.py --workdir=runs/pix2pix_scenes

The pix2pix objective (jaxgan/pix2pix.py: U-Net G, PatchGAN D on input ⊕ output, non-saturating adversarial +
100·L1, dropout as noise) with the label map one-hot encoded as G's input (objective "pix2pix_map",
jaxgan/pix2pix_maps.py). Sized so that G and D together have within 20 % of spade_scenes' parameters (and G
alone too; tests/test_spade.py checks), trained with the same batch and steps. Budget and scores:
docs/image_to_image.md.
"""
from jaxgan.configs import base
from jaxgan.data import scenes


def get_config():
  c = base.get_config()
  c.objective = "pix2pix_map"
  c.model.name = "unet"
  c.model.image_shape = (64, 64, 3)
  c.model.map_classes = scenes.NUM_CLASSES
  c.model.base = 16
  c.model.depth = 4                 # 64 → 32 → 16 → 8 → 4
  c.model.max_features = 32
  c.model.norm = "instance"
  c.model.dropout = 0.5
  c.model.dropout_layers = 1
  c.model.d_base = 16
  c.model.d_layers = 3              # 8×8 patch logits
  c.model.d_norm = "instance"
  c.pix2pix = dict(mode="gan", l1_weight=100.0, mask=False)
  c.loss.name = "non_saturating"
  c.optim.g = dict(name="adam", lr=2e-4, b1=0.5, b2=0.999)
  c.optim.d = dict(name="adam", lr=2e-4, b1=0.5, b2=0.999)
  c.data.name = "scenes"
  c.data.num = 6000
  c.data.seed = 0
  c.batch_size = 16
  c.steps = 2000
  c.checkpoint_every = 500
  c.sample_every = 500
  c.first_sample = 100
  return c
