"""Read models: what the app, the CLI exports and the report show, read from published files and settings."""
