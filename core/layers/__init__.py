"""What the layers know: token vectors of many sentences at every layer, and the BERTology that reads them.

- `states`: many sentences through the encoder in length-sorted batches, one row per token.
- `senses`: the same word in different senses, compared layer by layer.
- `projector`: every layer's token cloud in 2-D/3-D (PCA or UMAP), aligned across layers.
- `pos`: part-of-speech tags from NLTK's tagger (offline via `python -m core setup-nltk`).
- `probes`: linear probes by layer, with a control task (Hewitt & Liang 2019).
- `neighbours`: exBERT's corpus search on a few thousand built-in sentences, cached on disk.
- `query_key`: AttentionViz's joint map of one head's queries and keys.
"""
