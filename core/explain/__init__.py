"""What BERT computes, for the pages that show it: tokens, embeddings, attention,
masked-word and next-sentence predictions; and why a model decided: the words and targets an
explanation is about, attributions, their faithfulness, counterfactual edits."""
