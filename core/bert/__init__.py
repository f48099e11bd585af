"""BERT from scratch, as teaching material: `from_transformers(hf_model)` gives a readable copy.

    model = from_transformers(get_model("embedded").model)
    hidden, attentions = model(input_ids, attention_mask, output_attentions=True)
"""
from core.bert.config import BertConfig
from core.bert.convert import from_transformers
from core.bert.model import Bert, Trace

__all__ = ["Bert", "BertConfig", "Trace", "from_transformers"]
