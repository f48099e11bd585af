"""Facts that differ between the BERT-family architectures, asked of a loaded model in one place."""
from __future__ import annotations

import torch


def embedding_tables(loaded):
    """The encoder's embedding module (word, position and, where it has one, segment tables)."""
    return loaded.encoder.embeddings


def position_ids(loaded, input_ids: torch.Tensor) -> torch.Tensor:
    """The rows of the position table the model reads (RoBERTa's are offset by padding_idx + 1)."""
    emb = embedding_tables(loaded)
    make = getattr(emb, "create_position_ids_from_input_ids", None)
    if make is not None:  # RoBERTa-style: padding-aware positions, computed by the model's own code
        return make(input_ids, emb.padding_idx)
    return torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)


def max_length_of(config) -> int:
    """The longest input (in tokens) a model with `config` takes, capped at BERT's 512.
    RoBERTa reserves two positions for its padding offset."""
    limit = getattr(config, "max_position_embeddings", 512)
    return min(limit - 2 if config.model_type == "roberta" else limit, 512)


def attention_projections(loaded, layer: int) -> tuple[torch.nn.Linear, torch.nn.Linear]:
    """The query and key projections (W_q, W_k) of encoder layer `layer` (0-based) of any supported model."""
    encoder, config = loaded.encoder, loaded.config
    if loaded.model_type == "distilbert":
        attention = encoder.transformer.layer[layer].attention
        return attention.q_lin, attention.k_lin
    if loaded.model_type == "albert":  # layers share weights within each of num_hidden_groups groups
        group = layer * config.num_hidden_groups // config.num_hidden_layers
        attention = encoder.encoder.albert_layer_groups[group].albert_layers[0].attention
        return attention.query, attention.key
    attention = encoder.encoder.layer[layer].attention.self  # BERT, RoBERTa
    return attention.query, attention.key
