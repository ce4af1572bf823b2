"""What can be searched: the ``Arch`` value, search spaces over it, and its transformers model."""

from .arch import ARCH_FIELDS, Arch, LayerShape
from .bert import BertSpace, to_bert_config
from .layerwise import LayerwiseSpace
from .precision import PRECISIONS, Precision
from .shaping import bert_classifier, shape_layers
from .spaces import ArchSpace, space_input
from .tune_space import TuneSpace

__all__ = [
    "ARCH_FIELDS",
    "PRECISIONS",
    "Arch",
    "ArchSpace",
    "BertSpace",
    "LayerShape",
    "LayerwiseSpace",
    "Precision",
    "TuneSpace",
    "bert_classifier",
    "shape_layers",
    "space_input",
    "to_bert_config",
]
