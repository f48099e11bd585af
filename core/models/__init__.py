"""Loading models: the shared loader and the model-choice resolver, the embedded offline model,
and the classifiers the app trains (save, list, load, zip)."""
