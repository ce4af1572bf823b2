"""The model families candidates can be built in: a teacher's family gives its students'.

A family maps an ``Arch`` onto its own config (keeping everything else of the teacher's:
vocabulary, padding id, position offset, token types, activation) and says where a model's
units are (``ModelParts``). BERT and MiniLM, RoBERTa and its relatives (XLM-R, CamemBERT)
and ELECTRA share BERT's module layout; DistilBERT has its own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from search_spaces import Arch, shape_layers

from .parts import LayerParts, ModelParts

#: Families whose position ids start after the padding id (``padding_idx + 1``).
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert")


class FamilyError(ValueError):
    """A teacher whose family canao cannot build students in."""


def _bert_layout(model) -> ModelParts:
    base = model.base_model
    emb = base.embeddings
    tables = (emb.word_embeddings, emb.position_embeddings, getattr(emb, "token_type_embeddings", None))
    layers = tuple(
        LayerParts(
            block=layer,
            query=layer.attention.self.query,
            key=layer.attention.self.key,
            value=layer.attention.self.value,
            attention_out=layer.attention.output.dense,
            attention_norm=layer.attention.output.LayerNorm,
            ffn_in=layer.intermediate.dense,
            ffn_out=layer.output.dense,
            output_norm=layer.output.LayerNorm,
        )
        for layer in base.encoder.layer
    )
    head = model.classifier
    if hasattr(head, "out_proj"):  # RoBERTa's and ELECTRA's head: dense, then out_proj
        pooler, classifier = head.dense, head.out_proj
    else:
        pooler, classifier = (base.pooler.dense if base.pooler is not None else None), head
    return ModelParts(
        embeddings=tuple(t for t in tables if t is not None),
        embedding_norm=emb.LayerNorm,
        projection=getattr(base, "embeddings_project", None),
        layers=layers,
        pooler=pooler,
        classifier=classifier,
    )


def _distilbert_layout(model) -> ModelParts:
    base = model.distilbert
    layers = tuple(
        LayerParts(
            block=layer,
            query=layer.attention.q_lin,
            key=layer.attention.k_lin,
            value=layer.attention.v_lin,
            attention_out=layer.attention.out_lin,
            attention_norm=layer.sa_layer_norm,
            ffn_in=layer.ffn.lin1,
            ffn_out=layer.ffn.lin2,
            output_norm=layer.output_layer_norm,
        )
        for layer in base.transformer.layer
    )
    return ModelParts(
        embeddings=(base.embeddings.word_embeddings, base.embeddings.position_embeddings),
        embedding_norm=base.embeddings.LayerNorm,
        projection=None,
        layers=layers,
        pooler=model.pre_classifier,
        classifier=model.classifier,
    )


@dataclass(frozen=True)
class Family:
    """How students of one family are configured and where their units are."""

    model_types: tuple[str, ...]
    ffn_field: str  # the config field of the FFN width
    layout: Callable[[object], ModelParts]

    def student_config(self, arch: Arch, teacher_config, seq_len: int):
        """The teacher's config with ``arch``'s shape and positions for ``seq_len`` tokens; for
        a per-layer ``arch``, its full-width frame (``search_spaces.shape_layers`` narrows it)."""
        config = copy.deepcopy(teacher_config)
        config.hidden_size = arch.hidden_size
        config.num_hidden_layers = arch.num_layers
        config.num_attention_heads = arch.hidden_size // arch.head_dim
        setattr(config, self.ffn_field, max(arch.layer_ffn))
        offset = teacher_config.pad_token_id + 1 if teacher_config.model_type in OFFSET_POSITIONS else 0
        config.max_position_embeddings = min(teacher_config.max_position_embeddings, seq_len + offset)
        if getattr(teacher_config, "embedding_size", None) == teacher_config.hidden_size:
            config.embedding_size = arch.hidden_size  # ELECTRA without a projection keeps none
        return config


BERT_LAYOUT = Family(("bert", "roberta", "xlm-roberta", "camembert", "electra"), "intermediate_size", _bert_layout)
DISTILBERT = Family(("distilbert",), "hidden_dim", _distilbert_layout)
FAMILIES: Mapping[str, Family] = {name: family for family in (BERT_LAYOUT, DISTILBERT) for name in family.model_types}


def family_of(config) -> Family:
    """The family of a model config, or a ``FamilyError`` naming the ones supported."""
    model_type = getattr(config, "model_type", None)
    if model_type not in FAMILIES:
        raise FamilyError(
            f"model type {model_type!r} is not a family canao builds students in; use a checkpoint of one of: "
            f"{', '.join(FAMILIES)}"
        )
    return FAMILIES[model_type]


def model_parts(model) -> ModelParts:
    """Where ``model``'s (a sequence classifier of a supported family) units are."""
    return family_of(model.config).layout(model)


#: The config field that records a per-layer model's Arch (``config.json`` keeps it).
ARCH_FIELD = "canao_arch"


def shape_model(model, arch: Arch):
    """``model``, built at ``arch``'s full-width frame, narrowed to its per-layer shapes; a
    per-layer model's config records the Arch (``ARCH_FIELD``) so that it can be rebuilt."""
    shape_layers([layer.block for layer in model_parts(model).layers], arch)
    if not arch.is_uniform:
        setattr(model.config, ARCH_FIELD, arch.to_dict())
    return model


def recorded_arch(config) -> Arch | None:
    """The per-layer Arch a saved config records, or None for a model of uniform layers."""
    values = getattr(config, ARCH_FIELD, None)
    return Arch.from_dict(values) if values else None
