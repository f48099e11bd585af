"""BERT Playground's engine: everything the pages do, importable and testable without Streamlit."""
