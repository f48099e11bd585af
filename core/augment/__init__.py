"""Text augmentation: the nlpaug techniques and recipes, BERT's contextual augmenter,
word diffs, and whole-dataset augmentation."""
