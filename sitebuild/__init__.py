"""Build-time tools for the Pelican site: plugins, content checks and editor commands."""
