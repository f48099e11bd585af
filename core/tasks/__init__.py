"""BERT's other fine-tuning shapes (the paper's figure 4) beyond one sentence: a tag for every
word (`tokens`) and an answer span in a paragraph (`spans`), with the metrics their literature
uses (`metrics`). Sentence pairs are classification with segment B (`core.inputs.pairs`)."""
