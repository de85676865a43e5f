"""Evaluation: harmful rate, over-refusal, benign accuracy, structure adherence, reasoning length."""
