"""What BERT computes, for the pages that show it: tokens, embeddings, attention,
masked-word and next-sentence predictions."""
