"""One LLM client for the teacher, the judges and the models under test, its backends and its cache."""
