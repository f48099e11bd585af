"""Everything that trains: one kit (batches, optimizer, schedule, precision, evaluation) used by
fine-tuning, distillation, pruning, ensembles and both kinds of pretraining."""
