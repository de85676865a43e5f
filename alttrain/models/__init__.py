"""The model being trained and tested: where it comes from, and the chat template it is rendered with."""
