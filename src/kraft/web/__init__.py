"""`kraft serve`: the web app and the REST API (FastAPI), over the workspace's database."""
