"""What goes into a model: text encoding, CSV uploads, labelled datasets (built-in and hub),
and the text corpora that pretraining reads."""
