"""Retrieval over the knowledge base: entries, encoders, lexical and dense indexes, collections, evaluation."""
