"""Human review in Argilla: push curated candidates, pull reviewers' verdicts and edits back."""
