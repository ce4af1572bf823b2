"""What can be searched: the ``Arch`` value and search spaces over it."""

from .arch import Arch
from .bert import BertSpace, to_bert_config

__all__ = ["Arch", "BertSpace", "to_bert_config"]
