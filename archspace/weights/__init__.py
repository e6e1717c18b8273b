"""Official checkpoints -> archspace state_dicts: one key map per family, refused with one line when a tensor does not fit."""
from archspace.weights.convert import convert_state_dict, load_checkpoint_state_dict, official_layout
from archspace.weights.families import FAMILIES, family_for

__all__ = ["FAMILIES", "convert_state_dict", "family_for", "load_checkpoint_state_dict", "official_layout"]
