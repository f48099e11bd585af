"""What goes into a model: text encoding, CSV uploads, labelled datasets (built-in and hub),
the text corpora that pretraining reads, and the links that carry a page's inputs to someone else."""
