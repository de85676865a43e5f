"""Files that run inside the argilla-server venv (not imported by alttrain itself)."""
