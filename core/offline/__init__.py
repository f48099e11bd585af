"""What makes the app work without internet: bertviz's scripts from the npm registry and NLTK's
data built from Debian's WordNet."""
